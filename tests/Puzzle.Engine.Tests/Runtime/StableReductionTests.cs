using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Library;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Runtime;

/// <summary>Tests that set torch's thread count, which is the whole process's: they run with no other test beside them,
/// whose results (a bit-for-bit resume, say) could otherwise change with the count under them.</summary>
[CollectionDefinition(nameof(TorchThreadsCollection), DisableParallelization = true)]
public sealed class TorchThreadsCollection;

/// <summary>
/// Results must not depend on torch's thread count (the executor gives a job 1 or 2 threads depending on what else
/// is ready): the same spec must give bit-identical weights and scores however the jobs were scheduled.
/// </summary>
[Collection(nameof(TorchThreadsCollection))]
public class StableReductionTests
{
    static T OnThreads<T>(int threads, Func<T> compute)
    {
        Fixtures.Torch();
        var before = get_num_threads();
        set_num_threads(threads);
        try { return compute(); }
        finally { set_num_threads(before); }
    }

    static uint[] Bits(Tensor t) => t.detach().contiguous().to(float32).data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();

    [Theory]
    [InlineData(100L)]
    [InlineData(32768L)]
    [InlineData(1_000_003L)]
    [InlineData(8L * 256 * 256)]
    public void Sum_is_the_same_on_one_and_two_threads_and_accurate(long n)
    {
        Fixtures.Torch();
        using var x = randn(n, generator: new Generator(7));
        var one = OnThreads(1, () => { using var s = StableReduction.Sum(x); return s.item<float>(); });
        var two = OnThreads(2, () => { using var s = StableReduction.Sum(x); return s.item<float>(); });
        Assert.Equal(BitConverter.SingleToUInt32Bits(one), BitConverter.SingleToUInt32Bits(two));
        using var exact = x.to(float64).sum();
        Assert.Equal(exact.item<double>(), one, Math.Max(1e-3, Math.Abs(exact.item<double>()) * 1e-5));
        using var mean = StableReduction.Mean(x);
        Assert.Equal(one / n, mean.item<float>(), 1e-6);
    }

    [Fact]
    public void A_BLD_sized_nmse_and_its_gradient_are_the_same_on_one_and_two_threads()
    {
        Fixtures.Torch();
        var generator = new Generator(3);
        using var parent = randn([8, 256, 256], generator: generator);
        using var start = randn([8, 256, 256], generator: generator);
        (uint[] Loss, uint[] Grad) Step()
        {
            using var child = start.clone().requires_grad_(true);
            using var loss = Nmse.Of(child, parent);
            loss.backward();
            return (Bits(loss), Bits(child.grad!));
        }
        var (loss1, grad1) = OnThreads(1, Step);
        var (loss2, grad2) = OnThreads(2, Step);
        Assert.Equal(loss1, loss2);
        Assert.True(grad1.SequenceEqual(grad2), "the BLD gradient depends on the thread count");
    }

    [Fact]
    public void Kl_over_many_tokens_is_the_same_on_one_and_two_threads()
    {
        Fixtures.Torch();
        var generator = new Generator(5);
        using var logits = randn([16, 256, 300], generator: generator);
        using var teacher = randn([16, 256, 300], generator: generator);
        using var targets = randint(0, 300, [16, 256], generator: generator);
        LmMetrics Metrics()
        {
            var sums = new LmMetricsAccumulator();
            sums.Add(logits, targets, teacher);
            return sums.Result();
        }
        var one = OnThreads(1, Metrics);
        var two = OnThreads(2, Metrics);
        Assert.Equal(BitConverter.DoubleToInt64Bits(one.Kl!.Value), BitConverter.DoubleToInt64Bits(two.Kl!.Value));
        Assert.Equal(BitConverter.DoubleToInt64Bits(one.Loss), BitConverter.DoubleToInt64Bits(two.Loss));
    }

    [Fact]
    public void Clipping_matches_torch_and_does_not_depend_on_the_thread_count()
    {
        Fixtures.Torch();
        var generator = new Generator(9);
        using var a = randn([700, 300], generator: generator);
        using var b = randn([300], generator: generator);
        (double Norm, uint[] Grad) Clip(Func<IReadOnlyList<TorchSharp.Modules.Parameter>, double> clip)
        {
            using var p = new TorchSharp.Modules.Parameter(zeros(700, 300));
            using var q = new TorchSharp.Modules.Parameter(zeros(300));
            p.grad = a.clone();
            q.grad = b.clone();
            var norm = clip([p, q]);
            return (norm, Bits(p.grad!).Concat(Bits(q.grad!)).ToArray());
        }
        var (norm1, grad1) = OnThreads(1, () => Clip(ps => GradientClipping.ClipByGlobalNorm(ps, 1.0)));
        var (norm2, grad2) = OnThreads(2, () => Clip(ps => GradientClipping.ClipByGlobalNorm(ps, 1.0)));
        Assert.Equal(norm1, norm2);
        Assert.True(grad1.SequenceEqual(grad2));
        var (torchNorm, torchGrad) = Clip(ps => nn.utils.clip_grad_norm_(ps, 1.0));
        Assert.Equal(torchNorm, norm1, torchNorm * 1e-5); // both accumulate float32 squares, in different orders
        var ours = grad1.Select(BitConverter.UInt32BitsToSingle).ToArray();
        var theirs = torchGrad.Select(BitConverter.UInt32BitsToSingle).ToArray();
        for (var i = 0; i < ours.Length; i++) Assert.Equal(theirs[i], ours[i], 1e-5);
        // below the limit nothing changes, as in torch
        var (_, untouched) = Clip(ps => GradientClipping.ClipByGlobalNorm(ps, 1e9));
        Assert.True(untouched.SequenceEqual(Bits(a).Concat(Bits(b))));
    }
}
