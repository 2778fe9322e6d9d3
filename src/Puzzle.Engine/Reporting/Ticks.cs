using System.Globalization;

namespace Puzzle.Engine.Reporting;

/// <summary>Round axis ticks and short labels a reader takes in at a glance: 0.02, 0.5, 1, 20k, 1.5M, 2e-5.</summary>
public static class Ticks
{
    /// <summary>A range covering [lo, hi] widened to a round step (1, 2 or 5 × 10^k, about five ticks), and its ticks.</summary>
    public static (double Min, double Max, IReadOnlyList<double> Ticks) Linear(double lo, double hi)
    {
        if (hi - lo <= Math.Abs(hi) * 1e-12) { var pad = Math.Abs(hi) > 0 ? Math.Abs(hi) * 0.1 : 1; lo -= pad; hi += pad; }
        var raw = (hi - lo) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw * (1 - 1e-9));
        var min = Math.Floor(lo / step + 1e-9) * step;
        var max = Math.Ceiling(hi / step - 1e-9) * step;
        var ticks = new List<double>();
        var digits = Math.Clamp(1 - (int)Math.Floor(Math.Log10(step)), 0, 15); // 3 × 0.2 is 0.6000000000000001 otherwise
        for (var i = 0; min + i * step <= max + step * 1e-9; i++) ticks.Add(Math.Round(min + i * step, digits));
        return (min, max, ticks);
    }

    /// <summary>
    /// A log range from the largest tick at or below <paramref name="lo"/> to the smallest at or above
    /// <paramref name="hi"/>, ticks at 1, 2 and 5 × 10^k (only powers of ten when the values span more than three decades).
    /// </summary>
    public static (double Min, double Max, IReadOnlyList<double> Ticks) Log(double lo, double hi)
    {
        lo = Math.Max(lo, 1e-12);
        hi = Math.Max(hi, lo * 1.0001);
        var first = (int)Math.Floor(Math.Log10(lo) + 1e-9);
        var last = (int)Math.Ceiling(Math.Log10(hi) - 1e-9);
        var multiples = last - first > 3 ? new[] { 1.0 } : [1.0, 2, 5];
        var all = Enumerable.Range(first, last - first + 1)
            .SelectMany(k => multiples.Select(m => double.Parse($"{m}e{k}", CultureInfo.InvariantCulture))).ToList();
        var min = all.Where(t => t <= lo * (1 + 1e-9)).DefaultIfEmpty(all[0]).Max();
        var max = all.Where(t => t >= hi * (1 - 1e-9)).DefaultIfEmpty(all[^1]).Min();
        return (min, max, all.Where(t => t >= min && t <= max).ToList());
    }

    public static string Label(double v) => Math.Abs(v) switch
    {
        0 => "0",
        >= 1e6 => (v / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (v / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        >= 1e-3 => Math.Round(v, 6).ToString("0.######", CultureInfo.InvariantCulture),
        _ => v.ToString("0.#e0", CultureInfo.InvariantCulture),
    };
}
