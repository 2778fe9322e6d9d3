using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Benchmarks;

/// <summary>
/// Score's metrics on this CPU: 3 models' logits against one teacher's over 2 × 511 positions, float32, at three
/// vocabulary sizes, in the same run: in 256 MB slices (the former default, and the GPU's), in the CPU's 16 MB slices
/// (<see cref="LogitSlices"/>), and in those with the teacher's part taken once for all models
/// (<see cref="LmMetricsAccumulator.Teacher"/>, as Score does). Then with each model's logits made by a head
/// (d = 512) from its final hidden states: the head run whole and its logits measured in slices, against the head run
/// one slice at a time inside the metrics (as Score and Evaluate do now), its logits never whole.
/// </summary>
public static class MetricsBenchmarks
{
    const int Models = 3, Hidden = 512;

    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("metrics");
        foreach (var vocab in new[] { 2048, 32768, 128256 })
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(1);
            var teacher = randn([2, 511, vocab], generator: generator) * 3;
            var targets = randint(0, vocab, [2, 511], dtype: int64, generator: generator);
            var models = Enumerable.Range(0, Models).Select(_ => teacher + randn([2, 511, vocab], generator: generator) * 0.3).ToList();
            double Each(long slice) => Measure.MedianSeconds(() =>
            {
                foreach (var m in models) new LmMetricsAccumulator(slice).Add(m, targets, teacher);
            }, warmup: 1, repeats: 3);
            var large = Each(LogitSlices.GpuBytes);
            var small = Each(LogitSlices.CpuBytes);
            var once = Measure.MedianSeconds(() =>
            {
                using var prepared = new LmMetricsAccumulator.Teacher(teacher, LogitSlices.CpuBytes);
                foreach (var m in models) new LmMetricsAccumulator(LogitSlices.CpuBytes).Add(m, targets, prepared);
            }, warmup: 1, repeats: 3);
            var note = $"{Models} models × 1,022 positions, {torch.get_num_threads()} threads";
            report.Add($"vocabulary {vocab}: 256 MB slices", large, "s", note);
            report.Add($"vocabulary {vocab}: 16 MB slices", small, "s", $"{large / small:F1}x faster than 256 MB slices");
            report.Add($"vocabulary {vocab}: 16 MB slices, the teacher's part taken once", once, "s", $"{small / once:F2}x faster than each model taking it");

            var weight = randn([vocab, Hidden], generator: generator) * 0.05;
            Tensor Head(Tensor h) => nn.functional.linear(h, weight);
            var hidden = Enumerable.Range(0, Models).Select(_ => randn([2, 511, Hidden], generator: generator)).ToList();
            using var fromHead = new LmMetricsAccumulator.Teacher(Head(randn([2, 511, Hidden], generator: generator)), LogitSlices.CpuBytes);
            var whole = Measure.MedianSeconds(() =>
            {
                foreach (var h in hidden)
                {
                    using var each = NewDisposeScope();
                    new LmMetricsAccumulator(LogitSlices.CpuBytes).Add(Head(h), targets, fromHead);
                }
            }, warmup: 1, repeats: 3);
            var sliced = Measure.MedianSeconds(() =>
            {
                foreach (var h in hidden) new LmMetricsAccumulator(LogitSlices.CpuBytes).Add(h, Head, vocab, targets, fromHead);
            }, warmup: 1, repeats: 3);
            report.Add($"vocabulary {vocab}: the models' heads run whole, then 16 MB slices", whole, "s", $"head d={Hidden}, the teacher's part taken once");
            report.Add($"vocabulary {vocab}: the models' heads run a 16 MB slice at a time", sliced, "s", $"{whole / sliced:F2}x faster than the heads run whole");
        }
        return report;
    }
}
