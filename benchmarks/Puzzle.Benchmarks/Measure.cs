using System.Diagnostics;

namespace Puzzle.Benchmarks;

/// <summary>Median wall time of repeated runs after warm-up.</summary>
public static class Measure
{
    /// <summary>The median of some values (the mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    public static double MedianSeconds(Action run, int warmup = 2, int repeats = 7)
    {
        for (var i = 0; i < warmup; i++) run();
        var times = new double[repeats];
        for (var i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            run();
            times[i] = sw.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
