using System.Globalization;

namespace Puzzle.Engine.Reporting;

/// <summary>How report.html and the console table write the report's numbers.</summary>
internal static class ReportFormat
{
    /// <summary>A share as a percentage with one decimal (<paramref name="none"/> where there is no value).</summary>
    public static string P(double? v, string none = "") => v is null ? none : v.Value.ToString("P1", CultureInfo.InvariantCulture);

    /// <summary>A number in <paramref name="format"/>, or "-" where there is none.</summary>
    public static string F(double? v, string format) => v is null ? "-" : v.Value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A share as a percentage with one decimal, or more where one would write it on the other side of
    /// <paramref name="beside"/> (or equal to it) than it is: 94.96% beside a 95% goal it missed reads 94.96 %, not 95.0 %.</summary>
    public static string P(double? v, double? beside, string none = "") =>
        v is null ? none : v.Value.ToString("P" + (Decimals(v.Value, beside, 3) - 2), CultureInfo.InvariantCulture);

    /// <summary>A number with <paramref name="decimals"/> decimals, or more where fewer would write it on the other side
    /// of <paramref name="beside"/> (or equal to it) than it is: a measured speedup of 1.495 beside a 1.5x target it
    /// missed reads 1.495, not 1.50; "-" where there is none.</summary>
    public static string F(double? v, int decimals, double? beside) =>
        v is null ? "-" : v.Value.ToString("F" + Decimals(v.Value, beside, decimals), CultureInfo.InvariantCulture);

    /// <summary>The fewest decimals, at least <paramref name="least"/>, that write <paramref name="v"/> and
    /// <paramref name="other"/> in the order they are in (a verdict beside them then agrees with what they read).</summary>
    internal static int Decimals(double v, double? other, int least)
    {
        if (other is not { } o || !double.IsFinite(v) || !double.IsFinite(o)) return least;
        static double Written(double x, int d) => double.Parse(x.ToString("F" + d, CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var d = least;
        while (d < 15 && Math.Sign(Written(v, d) - Written(o, d)) != Math.Sign(v - o)) d++;
        return d;
    }
}
