using System.Diagnostics;

namespace Puzzle.Benchmarks;

/// <summary>Median wall time of repeated runs after warm-up.</summary>
public static class Measure
{
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
