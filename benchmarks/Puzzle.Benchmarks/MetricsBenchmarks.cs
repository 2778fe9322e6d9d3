using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Benchmarks;

/// <summary>
/// Score's metrics on this CPU: 3 models' logits against one teacher's over 2 × 511 positions, float32, at three
/// vocabulary sizes, in the same run: in 256 MB slices (the former default, and the GPU's), in the CPU's 16 MB slices
/// (<see cref="LogitSlices"/>), and in those with the teacher's part taken once for all models
/// (<see cref="LmMetricsAccumulator.Teacher"/>, as Score does now).
/// </summary>
public static class MetricsBenchmarks
{
    const int Models = 3;

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
        }
        return report;
    }
}
