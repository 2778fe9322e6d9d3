namespace Puzzle.Engine.Search;

/// <summary>
/// Tolerance and integer scaling. A limit holds when the total is at most max + <see cref="Tolerance"/> ×
/// <see cref="Magnitude"/>: totals equal to a limit up to floating-point rounding (common when every layer's options
/// have the same per-shape costs) meet it, whatever order the sum is taken in.
/// CP-SAT works on integers: each resource is scaled by the power of two that brings its magnitude to
/// 2^<see cref="ResourceBits"/> (exact in floating point); costs are rounded up and the allowed total down, so an
/// architecture that fits the integer constraint meets the limit, and one can only be cut off within
/// (slots / 2^40) ≈ 1.5e-10 of the tolerance's edge. Scores are rounded to the nearest of ~<see cref="ScoreUnits"/>
/// steps across the largest possible total, so the objective is exact to about 1e-9 of its range.
/// </summary>
internal static class IntegerScaling
{
    public const double Tolerance = 1e-9;
    public const int ResourceBits = 40;

    /// <summary>The largest total that meets <paramref name="limit"/>.</summary>
    public static double Allowed(SearchProblem p, ResourceLimit limit) => limit.Max + Tolerance * Magnitude(p, limit);
    public const double ScoreUnits = 1e9;

    /// <summary>How large the resource of <paramref name="limit"/> gets: its headroom (limit minus fixed cost) or its
    /// largest single option cost, whichever is larger (1 when both are 0).</summary>
    public static double Magnitude(SearchProblem p, ResourceLimit limit)
    {
        var headroom = Math.Abs(limit.Max - p.Fixed(limit.Resource));
        var largest = p.Layers.SelectMany(l => l.Attention.Concat(l.Ffn)).Select(o => Math.Abs(o.Cost(limit.Resource))).DefaultIfEmpty(0).Max();
        var magnitude = Math.Max(double.IsFinite(headroom) ? headroom : 0, largest);
        return magnitude > 0 ? magnitude : 1;
    }

    /// <summary>Integer steps per unit of <paramref name="limit"/>'s resource: the largest power of two that keeps
    /// <see cref="Magnitude"/> within 2^<see cref="ResourceBits"/>.</summary>
    public static double Resource(SearchProblem p, ResourceLimit limit) =>
        Math.ScaleB(1, Math.Clamp(ResourceBits - (int)Math.Ceiling(Math.Log2(Magnitude(p, limit))), -1000, 1000));

    /// <summary>Integer steps per unit of score: the largest possible total |score| maps to <see cref="ScoreUnits"/>.</summary>
    public static double Score(SearchProblem p)
    {
        var magnitude = p.Layers.Sum(l => MaxAbs(l.Attention) + MaxAbs(l.Ffn));
        return magnitude > 0 && double.IsFinite(magnitude) ? ScoreUnits / magnitude : 1;
    }

    public static long Round(double value, double scale) => (long)Math.Round(value * scale, MidpointRounding.AwayFromZero);

    public static long Up(double value, double scale) => (long)Math.Ceiling(value * scale);

    public static long Down(double value, double scale) => (long)Math.Floor(value * scale);

    static double MaxAbs(IReadOnlyList<SearchOption> options) => options.Select(o => Math.Abs(o.Score)).DefaultIfEmpty(0).Max();
}
