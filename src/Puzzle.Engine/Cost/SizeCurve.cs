namespace Puzzle.Engine.Cost;

/// <summary>
/// How a model's whole scenario time grows with its summed block costs, relative to the parent's: a model whose blocks
/// add up to <c>r</c> of the parent's summed blocks runs in <c>r·(1 − K + K·r)</c> of the parent's whole time. The
/// additive model is <c>K = 0</c>. On this project's 2-core CPU a model's whole time over its summed blocks grew with
/// its size (a smaller model keeps more of its weights and KV cache in the caches): K was 0.07 and 0.20 in two main
/// jobs, and fitted within a process it left every timed architecture within ±6% where the plain sum was off by up
/// to −20% (benchmarks/results/timing-noise.json). The Measure job fits K to the parent and a few sampled architectures
/// timed whole beside the blocks (<see cref="Fit"/>).
/// </summary>
public sealed record SizeCurve(double K)
{
    /// <summary>K is kept within these bounds, where the curve increases over every size a model of the library can
    /// have (up to twice the parent's summed blocks): a fit outside them says the timings were too noisy to fit.</summary>
    public const double MinK = -1.0 / 3, MaxK = 0.5;

    /// <summary>Whole time proportional to summed blocks.</summary>
    public static readonly SizeCurve Additive = new(0);

    /// <summary>A model's whole time over the parent's, given its summed blocks over the parent's (<paramref name="r"/>).</summary>
    public double Ratio(double r) => r * (1 - K + K * r);

    /// <summary>The summed blocks over the parent's that give a whole time of <paramref name="ratio"/> of the parent's:
    /// the inverse of <see cref="Ratio"/> on its increasing part (past its top, for a negative K, the top).</summary>
    public double Inverse(double ratio)
    {
        if (ratio <= 0) return 0;
        var b = 1 - K;
        var disc = b * b + 4 * K * ratio;
        if (disc < 0) return b / (-2 * K); // beyond the curve's top: every size meets it
        return 2 * ratio / (b + Math.Sqrt(disc)); // the root of K·r² + (1 − K)·r = ratio, stable for K near 0
    }

    /// <summary>
    /// The curve fitted by least squares to architectures timed whole in the same process as the parent:
    /// <c>whole/parentWhole ÷ (summed/parentSummed) − 1 = K·(summed/parentSummed − 1)</c>, K kept within
    /// [<see cref="MinK"/>, <see cref="MaxK"/>]. Without samples of another size than the parent's, the additive curve.
    /// </summary>
    /// <param name="samples">each architecture's summed block costs and its whole time</param>
    public static SizeCurve Fit(IEnumerable<(double Summed, double Whole)> samples, double parentSummed, double parentWhole)
    {
        if (parentSummed <= 0 || parentWhole <= 0) throw new ArgumentOutOfRangeException(nameof(parentSummed), "the parent's times must be positive");
        double num = 0, den = 0;
        foreach (var (summed, whole) in samples)
        {
            if (summed <= 0) continue; // nothing timed: nothing to fit
            var r = summed / parentSummed;
            var m = whole / parentWhole;
            num += (r - 1) * (m / r - 1);
            den += (r - 1) * (r - 1);
        }
        return den < 1e-6 ? Additive : new SizeCurve(Math.Clamp(num / den, MinK, MaxK));
    }
}
