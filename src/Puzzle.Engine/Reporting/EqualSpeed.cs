using System.Globalization;
using Puzzle.Engine.Export;

namespace Puzzle.Engine.Reporting;

/// <summary>
/// Compares a child with a baseline at equal measured speed: the baseline's quality is read off its curve (its models'
/// quality against their measured speedups) at the child's measured speedup, linear between the two measured speeds
/// around it. At each measured speed the curve holds, per measure, the best value of the baseline's models measured at
/// that speed or faster: a faster model serves at a slower speed too, and a curve that mixes a healed model with
/// assembled-only ones, or whose models' speeds came out in another order than their targets, is otherwise read worse
/// than a model the baseline has at the child's speed or faster (the child then "beats" a baseline that beats it). Two
/// models measured at the same speed (equal architectures are timed once) are one point, the better of them. A value
/// that is not finite (an evaluation that diverged: NaN or infinity, which a line through it would carry to every speed
/// beside it) is left out. Outside the curve's measured range it is not
/// extrapolated: within <see cref="Tolerance"/> of the nearest end that end's point stands for the curve (timings on a
/// shared machine differ by more than that), further out there is no verdict.
/// </summary>
public static class EqualSpeed
{
    /// <summary>How far outside a curve's measured range, relative to the nearest end's speedup, that end still counts.</summary>
    public const double Tolerance = 0.05;

    public enum Placement { Interpolated, Nearest, OutsideRange }

    /// <summary>Where a speedup falls among a curve's measured speeds: the two (indices into the speeds as given) it lies
    /// between and its weight towards <see cref="High"/>; for <see cref="Placement.Nearest"/> both are the nearest end,
    /// for <see cref="Placement.OutsideRange"/> they are the two ends.</summary>
    public sealed record Reading(Placement Placement, int Low, int High, double Weight)
    {
        /// <summary>The curve's value here, of per-speed values <paramref name="values"/>: null outside the range or where
        /// a speed it reads has none. A speed of weight 0 does not enter (a baseline's value at the other is read as is).</summary>
        public double? Of(IReadOnlyList<double?> values)
        {
            if (Placement == Placement.OutsideRange) return null;
            if (Weight == 0) return values[Low];
            if (Weight == 1) return values[High];
            return values[Low] is { } low && values[High] is { } high ? low * (1 - Weight) + high * Weight : null;
        }

        /// <summary>The indices whose values enter.</summary>
        public IEnumerable<int> Used => Placement == Placement.OutsideRange ? [] : Weight == 0 ? [Low] : Weight == 1 ? [High] : [Low, High];
    }

    /// <summary>Where <paramref name="at"/> falls among measured <paramref name="speedups"/> (distinct, ascending).</summary>
    public static Reading Locate(IReadOnlyList<double> speedups, double at, double tolerance = Tolerance)
    {
        if (speedups.Count == 0) throw new ArgumentException("a curve needs at least one point", nameof(speedups));
        for (var i = 1; i < speedups.Count; i++)
            if (!(speedups[i] > speedups[i - 1]))
                throw new ArgumentException($"speedups[{i}] is {speedups[i]}, not above speedups[{i - 1}] {speedups[i - 1]}: the speeds must be distinct and ascending", nameof(speedups));
        var last = speedups.Count - 1;
        if (at < speedups[0])
            return speedups[0] - at <= tolerance * speedups[0] ? new(Placement.Nearest, 0, 0, 0) : new(Placement.OutsideRange, 0, last, 0);
        if (at > speedups[last])
            return at - speedups[last] <= tolerance * speedups[last] ? new(Placement.Nearest, last, last, 0) : new(Placement.OutsideRange, 0, last, 0);
        var high = 1;
        while (high <= last && speedups[high] < at) high++;
        if (high > last) return new(Placement.Interpolated, 0, 0, 0); // a single point, hit exactly
        return new(Placement.Interpolated, high - 1, high, (at - speedups[high - 1]) / (speedups[high] - speedups[high - 1]));
    }

    /// <summary>A measure of quality against the parent, and which way is better.</summary>
    sealed record Measure(string Name, Func<SpeedPoint, double?> Of, bool LowerIsBetter)
    {
        public bool Better(double a, double than) => LowerIsBetter ? a < than : a > than;
    }

    static readonly Measure[] Measures = [new("KL", p => p.Kl, true), new("agreement", p => p.Agreement, false), new("retention", p => p.Retention, false)];

    /// <summary>One measured speed of a curve: the models measured at it, and per measure the best value of the models
    /// measured at it or faster, and the model it is (null where none has a value).</summary>
    sealed record Step(double Speedup, IReadOnlyList<SpeedPoint> At, (double Value, SpeedPoint Model)?[] Best);

    /// <summary>The curve's distinct measured speeds, ascending, each with the best of the models at least as fast. A
    /// model measured at the speed itself stands unless a faster one is strictly better.</summary>
    static IReadOnlyList<Step> Steps(IReadOnlyList<SpeedPoint> points)
    {
        // at one speed a healed model first: of two equal values it is the one named
        var ordered = points.Where(p => double.IsFinite(p.Speedup.Measured)).OrderBy(p => p.Speedup.Measured).ThenBy(p => !p.Healed).ToList();
        var speeds = ordered.Select(p => p.Speedup.Measured).Distinct().ToList();
        return [.. speeds.Select(s => new Step(s, [.. ordered.Where(p => p.Speedup.Measured == s)], [.. Measures.Select(m =>
        {
            (double Value, SpeedPoint Model)? best = null;
            foreach (var p in ordered.Where(p => p.Speedup.Measured >= s))
                if (m.Of(p) is { } v && double.IsFinite(v) && (best is null || m.Better(v, best.Value.Value))) best = (v, p);
            return best;
        })]))];
    }

    /// <summary>The child (a point of its own curve) against one baseline's curve, at the child's measured speedup:
    /// lower KL and higher agreement than the baseline there beat it; retention is compared and reported beside them.</summary>
    public static BaselineComparison Compare(SpeedPoint child, MethodCurve baseline, double tolerance = Tolerance)
    {
        var at = child.Speedup.Measured;
        var steps = Steps(baseline.Points);
        if (steps.Count == 0)
            return new BaselineComparison(Name(Placement.OutsideRange), at) { Rule = $"{baseline.Method} has no measured model: not compared" };
        var reading = Locate([.. steps.Select(s => s.Speedup)], at, tolerance);
        var values = Measures.Select((_, m) => reading.Of([.. steps.Select(s => s.Best[m]?.Value)])).ToArray();
        var rule = reading.Placement switch
        {
            Placement.OutsideRange => $"{X(at)} is outside {baseline.Method}'s measured range {X(steps[0].Speedup)}-{X(steps[^1].Speedup)} " +
                                      $"by more than {Percent(tolerance)}: not compared",
            Placement.Nearest => $"{X(at)} is within {Percent(tolerance)} of {baseline.Method}'s measured range: {Describe(steps[reading.Low])} " +
                                 $"{(Single(steps[reading.Low]) is null ? "stand" : "stands")} for it",
            _ when reading.Used.Count() == 1 => $"at {Describe(steps[reading.Used.Single()])}",
            // each speed's values the model measured there: named by the models alone
            _ when reading.Used.All(i => Single(steps[i]) is { } one && one.Speedup.Measured == steps[i].Speedup) =>
                $"interpolated at {X(at)} between {Describe(steps[reading.Low])} and {Describe(steps[reading.High])}",
            _ => $"interpolated at {X(at)} between {X(steps[reading.Low].Speedup)} ({Describe(steps[reading.Low])}) and " +
                 $"{X(steps[reading.High].Speedup)} ({Describe(steps[reading.High])})",
        };
        var used = reading.Used.SelectMany(i => steps[i].Best.OfType<(double Value, SpeedPoint Model)>().Select(b => b.Model)).Distinct().ToList();
        if (reading.Used.Any(i => steps[i].Best.Any(b => b is { } best && best.Model.Speedup.Measured > steps[i].Speedup)))
            rule += "; a model of theirs measured faster and better stands for a slower one (it serves at that speed too)";
        foreach (var p in baseline.Points)
        {
            if (!double.IsFinite(p.Speedup.Measured)) rule += $"; {p.Model}'s measured speedup is {Num(p.Speedup.Measured)}: left out";
            foreach (var m in Measures.Where(m => m.Of(p) is { } v && !double.IsFinite(v)))
                rule += $"; {p.Model}'s {m.Name} is {Num(m.Of(p)!.Value)} (its evaluation diverged): left out";
        }
        if (reading.Placement != Placement.OutsideRange)
            foreach (var (m, i) in Measures.Select((m, i) => (m, i)).Where(x => values[x.i] is null && baseline.Points.Any(p => x.m.Of(p) is not null)))
                rule += $"; {m.Name} not compared: no model of theirs measured at {X(steps[reading.Used.Max()].Speedup)} or faster has one";
        var (kl, agreement, retention) = (values[0], values[1], values[2]);
        return new BaselineComparison(Name(reading.Placement), at)
        {
            Rule = rule, Kl = kl, Agreement = agreement, Retention = retention,
            KlLower = kl is { } k ? child.Kl < k : null,
            AgreementHigher = agreement is { } a ? child.Agreement > a : null,
            RetentionHigher = retention is { } r && child.Retention is { } own ? own > r : null,
            HealedOnly = used.Count > 0 && used.All(p => p.Healed),
        };
    }

    /// <summary>The one model a step's values all come from (the first measured at it where none has a value), or null
    /// where they come from several.</summary>
    static SpeedPoint? Single(Step step) =>
        step.Best.OfType<(double Value, SpeedPoint Model)>().Select(b => b.Model).Distinct().ToList() switch
        {
            [] => step.At[0],
            [var one] => one,
            _ => null,
        };

    /// <summary>"uniform (1.80x, healed)", or where a step's values come from several models, each with its measures:
    /// "uniform (2.43x, healed) for KL and agreement, uniform.x1.25 (1.47x, assembled only) for retention".</summary>
    static string Describe(Step step)
    {
        if (Single(step) is { } one) return Point(one);
        return string.Join(", ", step.Best.Select((b, m) => (b, m)).Where(x => x.b is not null).GroupBy(x => x.b!.Value.Model)
            .Select(g => $"{Point(g.Key)} for {string.Join(" and ", g.Select(x => Measures[x.m].Name))}"));
    }

    static string Point(SpeedPoint p) => $"{p.Model} ({X(p.Speedup.Measured)}, {(p.Healed ? "healed" : "assembled only")})";

    /// <summary>The placement as report.json spells it.</summary>
    public static string Name(Placement placement) => placement switch
    {
        Placement.Interpolated => "interpolated",
        Placement.Nearest => "nearest",
        _ => "outside_range",
    };

    static string Percent(double v) => (100 * v).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    static string Num(double v) => v.ToString(CultureInfo.InvariantCulture);

    static string X(double v) => v.ToString("0.00", CultureInfo.InvariantCulture) + "x";
}
