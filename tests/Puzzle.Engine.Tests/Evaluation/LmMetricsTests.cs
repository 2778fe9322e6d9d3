using Puzzle.Engine.Evaluation;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Tests.Evaluation;

/// <summary>Metrics taken a slice of positions at a time in float32 equal a whole-batch float64 computation.</summary>
public class LmMetricsTests
{
    [Fact]
    public void Sliced_float32_metrics_equal_a_whole_batch_float64_reference()
    {
        Fixtures.Torch();
        using var generator = new Generator(11);
        const int vocab = 3000;
        using var logits = randn([3, 40, vocab], generator: generator) * 3;
        using var teacher = logits + randn([3, 40, vocab], generator: generator) * 0.05; // a near copy: a small KL
        using var targets = randint(0, vocab, [3, 40], dtype: int64, generator: generator);

        // slices of 7 positions: 18 slices, the last one short
        var sliced = new LmMetricsAccumulator(sliceBytes: 7 * vocab * 4);
        sliced.Add(logits, targets, teacher);
        var m = sliced.Result();

        using var logq = F.log_softmax(logits.reshape(-1, vocab).to(float64), 1);
        using var logp = F.log_softmax(teacher.reshape(-1, vocab).to(float64), 1);
        var nll = F.nll_loss(logq, targets.reshape(-1)).item<double>();
        var kl = (logp.exp() * (logp - logq)).sum(1).mean().item<double>();
        var top1 = logq.argmax(1).eq(targets.reshape(-1)).to(float64).mean().item<double>();
        var agreement = logq.argmax(1).eq(logp.argmax(1)).to(float64).mean().item<double>();

        Assert.Equal(120, m.Tokens);
        Assert.Equal(nll, m.Loss, 1e-5);
        Assert.Equal(kl, m.Kl!.Value, 1e-6);
        Assert.True(kl > 1e-4, $"the reference KL {kl} is not small but not zero");
        Assert.Equal(top1, m.Top1, 12);
        Assert.Equal(agreement, m.Agreement!.Value, 12);

        var whole = new LmMetricsAccumulator();
        whole.Add(logits, targets, teacher);
        Assert.Equal(m.Loss, whole.Result().Loss, 1e-9);
        Assert.Equal(m.Kl!.Value, whole.Result().Kl!.Value, 1e-9);
    }

    [Fact]
    public void A_teacher_prepared_once_gives_every_model_the_same_metrics_bit_for_bit()
    {
        Fixtures.Torch();
        using var generator = new Generator(12);
        const int vocab = 1000;
        using var teacherLogits = randn([2, 30, vocab], generator: generator) * 3;
        using var targets = randint(0, vocab, [2, 30], dtype: int64, generator: generator);
        var students = Enumerable.Range(0, 3).Select(k => teacherLogits + randn([2, 30, vocab], generator: generator) * (0.05 * (k + 1))).ToList();
        const long slice = 7 * vocab * 4; // 9 slices, the last one short

        using var teacher = new LmMetricsAccumulator.Teacher(teacherLogits, slice);
        foreach (var student in students)
        {
            var plain = new LmMetricsAccumulator(slice);
            plain.Add(student, targets, teacherLogits);
            var prepared = new LmMetricsAccumulator(slice);
            prepared.Add(student, targets, teacher);
            Assert.Equal(plain.Result(), prepared.Result()); // the same operations on the same values: equal doubles
            Assert.True(prepared.Result().Kl > 1e-4);
            student.Dispose();
        }
        // a teacher of another shape (or sliced otherwise) is refused, naming both
        using var other = new LmMetricsAccumulator.Teacher(teacherLogits[.., ..20], slice);
        var e = Assert.Throws<ArgumentException>(() => new LmMetricsAccumulator(slice).Add(teacherLogits, targets, other));
        Assert.Contains("[40, 1000]", e.Message);
    }

    [Fact]
    public void A_head_run_a_slice_at_a_time_gives_the_metrics_of_its_whole_logits()
    {
        Fixtures.Torch();
        using var generator = new Generator(13);
        const int vocab = 1000, d = 16;
        using var weight = randn([vocab, d], generator: generator);
        using var hidden = randn([2, 30, d], generator: generator);
        using var targets = randint(0, vocab, [2, 30], dtype: int64, generator: generator);
        using var teacherLogits = F.linear(hidden + randn([2, 30, d], generator: generator) * 0.1, weight);
        const long slice = 7 * vocab * 4; // 9 slices, the last one short
        var rowsSeen = new List<long>();
        Tensor Head(Tensor h)
        {
            rowsSeen.Add(h.shape[0]);
            return F.linear(h, weight);
        }

        foreach (var keep in new[] { true, false })
        {
            using var teacher = new LmMetricsAccumulator.Teacher(teacherLogits, slice, keep);
            var whole = new LmMetricsAccumulator(slice);
            whole.Add(F.linear(hidden, weight), targets, teacher);
            rowsSeen.Clear();
            var sliced = new LmMetricsAccumulator(slice);
            sliced.Add(hidden, Head, vocab, targets, teacher);
            Assert.Equal([7, 7, 7, 7, 7, 7, 7, 7, 4], rowsSeen); // the head never ran on all 60 positions
            var (a, b) = (whole.Result(), sliced.Result());
            Assert.Equal(a.Tokens, b.Tokens);
            Assert.Equal(a.Top1, b.Top1);
            Assert.Equal(a.Agreement, b.Agreement);
            Assert.Equal(a.Loss, b.Loss, 1e-5);
            Assert.Equal(a.Kl!.Value, b.Kl!.Value, 1e-5);
            Assert.True(b.Kl > 1e-3);
        }
        // without a teacher the slices follow the accumulator's size
        rowsSeen.Clear();
        new LmMetricsAccumulator(slice).Add(hidden, Head, vocab, targets);
        Assert.Equal(9, rowsSeen.Count);
    }
}
