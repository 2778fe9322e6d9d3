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

    /// <summary>The fastest of <paramref name="repeats"/> runs, in seconds (the first one warms the page cache).</summary>
    public static double FastestSeconds(Action run, int repeats = 3)
    {
        var best = double.MaxValue;
        for (var i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
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
