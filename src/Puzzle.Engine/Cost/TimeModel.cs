namespace Puzzle.Engine.Cost;

/// <summary>
/// A model's predicted whole scenario time from its summed block costs: the parent's whole time
/// (<paramref name="ParentWhole"/>) scaled by the size curve at the model's summed blocks over the parent's
/// (<paramref name="ParentSummed"/>). The search keeps its costs summed, which keeps its constraints linear; a limit on
/// whole time becomes a limit on summed time through <see cref="SummedFor"/>, which is exact because the curve
/// increases.
/// </summary>
public sealed record TimeModel(double ParentSummed, double ParentWhole, SizeCurve Curve)
{
    /// <summary>Whole time equal to summed time.</summary>
    public static readonly TimeModel Identity = new(1, 1, SizeCurve.Additive);

    /// <summary>The predicted whole time of a model whose blocks sum to <paramref name="summed"/>.</summary>
    public double Seconds(double summed) => ParentWhole * Curve.Ratio(summed / ParentSummed);

    /// <summary>The predicted speedup over the parent of a model whose blocks sum to <paramref name="summed"/>.</summary>
    public double Speedup(double summed) => 1 / Curve.Ratio(summed / ParentSummed);

    /// <summary>The largest summed time whose predicted whole time is at most <paramref name="seconds"/>.</summary>
    public double SummedFor(double seconds) => ParentSummed * Curve.Inverse(seconds / ParentWhole);
}
