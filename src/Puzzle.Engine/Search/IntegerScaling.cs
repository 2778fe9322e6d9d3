namespace Puzzle.Engine.Search;

/// <summary>
/// CP-SAT works on integers: scores and costs are scaled so the largest magnitude in play is about
/// <see cref="Units"/> and rounded to the nearest integer. Limits get a slack of <see cref="Slack"/> units so that
/// rounding never cuts off an architecture that meets the real (unscaled) limit; the solver's answer is then checked
/// against the real limits and, in the rare case it only fits thanks to rounding, cut off and solved again
/// (see <see cref="MipModel"/>). So the feasible set is exact and the objective is exact to about 1e-9 of its range.
/// </summary>
internal static class IntegerScaling
{
    /// <summary>About how many integer steps span a limit (or the total score).</summary>
    public const double Units = 1e9;

    /// <summary>Integer steps per unit of <paramref name="limit"/>'s resource: its headroom (limit minus fixed cost) or
    /// its largest single option cost, whichever is larger, maps to <see cref="Units"/>.</summary>
    public static double Resource(SearchProblem p, ResourceLimit limit)
    {
        var headroom = Math.Abs(limit.Max - p.Fixed(limit.Resource));
        var largest = p.Layers.SelectMany(l => l.Attention.Concat(l.Ffn)).Select(o => Math.Abs(o.Cost(limit.Resource))).DefaultIfEmpty(0).Max();
        return Per(Math.Max(double.IsFinite(headroom) ? headroom : 0, largest));
    }

    /// <summary>Integer steps per unit of score: the largest possible total |score| maps to <see cref="Units"/>.</summary>
    public static double Score(SearchProblem p) =>
        Per(p.Layers.Sum(l => MaxAbs(l.Attention) + MaxAbs(l.Ffn)));

    /// <summary>Slack added to an integer limit: the rounding of one cost per slot (½ step each) plus one step for
    /// the rounding of the limit itself.</summary>
    public static long Slack(SearchProblem p) => p.Layers.Sum(l => l.IsBlocks ? 1 : 2) / 2 + 2;

    public static long Round(double value, double scale) => (long)Math.Round(value * scale, MidpointRounding.AwayFromZero);

    static double MaxAbs(IReadOnlyList<SearchOption> options) => options.Select(o => Math.Abs(o.Score)).DefaultIfEmpty(0).Max();

    static double Per(double magnitude) => magnitude > 0 && double.IsFinite(magnitude) ? Units / magnitude : 1;
}
