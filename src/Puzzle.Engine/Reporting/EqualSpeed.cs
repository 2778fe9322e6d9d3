using System.Globalization;
using Puzzle.Engine.Export;

namespace Puzzle.Engine.Reporting;

/// <summary>
/// Compares a child with a baseline at equal measured speed: the baseline's quality is read off its curve (its models'
/// quality against their measured speedups) at the child's measured speedup, linear between the two measured points
/// around it. Outside the curve's measured range it is not extrapolated: within <see cref="Tolerance"/> of the nearest
/// end that end's point stands for the curve (timings on a shared machine differ by more than that), further out there
/// is no verdict.
/// </summary>
public static class EqualSpeed
{
    /// <summary>How far outside a curve's measured range, relative to the nearest end's speedup, that end still counts.</summary>
    public const double Tolerance = 0.05;

    public enum Placement { Interpolated, Nearest, OutsideRange }

    /// <summary>Where a speedup falls on a curve: the two points (indices into the curve as given) it lies between and
    /// its weight towards <see cref="High"/>; for <see cref="Placement.Nearest"/> both are the nearest end, for
    /// <see cref="Placement.OutsideRange"/> they are the two ends.</summary>
    public sealed record Reading(Placement Placement, int Low, int High, double Weight)
    {
        /// <summary>The curve's value here, of per-point values <paramref name="values"/> (null outside the range).</summary>
        public double? Of(IReadOnlyList<double> values) =>
            Placement == Placement.OutsideRange ? null : values[Low] * (1 - Weight) + values[High] * Weight;
    }

    /// <summary>Where <paramref name="at"/> falls among measured <paramref name="speedups"/> (any order, repeats allowed).</summary>
    public static Reading Locate(IReadOnlyList<double> speedups, double at, double tolerance = Tolerance)
    {
        if (speedups.Count == 0) throw new ArgumentException("a curve needs at least one point", nameof(speedups));
        var order = Enumerable.Range(0, speedups.Count).OrderBy(i => speedups[i]).ToList();
        var (first, last) = (order[0], order[^1]);
        if (at < speedups[first])
            return speedups[first] - at <= tolerance * speedups[first] ? new(Placement.Nearest, first, first, 0) : new(Placement.OutsideRange, first, last, 0);
        if (at > speedups[last])
            return at - speedups[last] <= tolerance * speedups[last] ? new(Placement.Nearest, last, last, 0) : new(Placement.OutsideRange, first, last, 0);
        for (var k = 0; k + 1 < order.Count; k++)
        {
            var (low, high) = (order[k], order[k + 1]);
            if (at > speedups[high]) continue;
            var span = speedups[high] - speedups[low];
            // two models measured at the same speed: halfway between them
            return new(Placement.Interpolated, low, high, span <= 0 ? 0.5 : (at - speedups[low]) / span);
        }
        return new(Placement.Interpolated, first, first, 0); // a single point, hit exactly
    }

    /// <summary>The child (a point of its own curve) against one baseline's curve, at the child's measured speedup:
    /// lower KL and higher agreement than the baseline there beat it; retention is compared and reported beside them.</summary>
    public static BaselineComparison Compare(SpeedPoint child, MethodCurve baseline, double tolerance = Tolerance)
    {
        var at = child.Speedup.Measured;
        var points = baseline.Points;
        if (points.Count == 0)
            return new BaselineComparison(Name(Placement.OutsideRange), at) { Rule = $"{baseline.Method} has no measured model: not compared" };
        var reading = Locate(points.Select(p => p.Speedup.Measured).ToList(), at, tolerance);
        string Point(int i) => $"{points[i].Model} ({X(points[i].Speedup.Measured)}, {(points[i].Healed ? "healed" : "assembled only")})";
        var rule = reading.Placement switch
        {
            Placement.Interpolated when reading.Low == reading.High => $"at {Point(reading.Low)}",
            Placement.Interpolated => $"interpolated at {X(at)} between {Point(reading.Low)} and {Point(reading.High)}",
            Placement.Nearest => $"{X(at)} is within {Percent(tolerance)} of {baseline.Method}'s measured range: {Point(reading.Low)} stands for it",
            _ => $"{X(at)} is outside {baseline.Method}'s measured range {X(points[reading.Low].Speedup.Measured)}-{X(points[reading.High].Speedup.Measured)} " +
                 $"by more than {Percent(tolerance)}: not compared",
        };
        var kl = reading.Of(points.Select(p => p.Kl).ToList());
        var agreement = reading.Of(points.Select(p => p.Agreement).ToList());
        var retention = points.All(p => p.Retention is not null) ? reading.Of(points.Select(p => p.Retention!.Value).ToList()) : null;
        return new BaselineComparison(Name(reading.Placement), at)
        {
            Rule = rule, Kl = kl, Agreement = agreement, Retention = retention,
            KlLower = kl is { } k ? child.Kl < k : null,
            AgreementHigher = agreement is { } a ? child.Agreement > a : null,
            RetentionHigher = retention is { } r && child.Retention is { } own ? own > r : null,
            HealedOnly = reading.Placement != Placement.OutsideRange && points[reading.Low].Healed && points[reading.High].Healed,
        };
    }

    /// <summary>The placement as report.json spells it.</summary>
    public static string Name(Placement placement) => placement switch
    {
        Placement.Interpolated => "interpolated",
        Placement.Nearest => "nearest",
        _ => "outside_range",
    };

    static string Percent(double v) => (100 * v).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    static string X(double v) => v.ToString("0.00", CultureInfo.InvariantCulture) + "x";
}
