using Puzzle.Engine.Cost;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Cost;

/// <summary>The size curve: whole time over the parent's as a function of summed blocks over the parent's, its inverse,
/// its fit, and the Measure job's samples and fit.</summary>
public class SizeCurveTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.2)]
    [InlineData(0.5)]
    [InlineData(-1.0 / 3)]
    public void The_inverse_undoes_the_curve_and_the_curve_increases_up_to_twice_the_parent(double k)
    {
        var curve = new SizeCurve(k);
        Assert.Equal(1, curve.Ratio(1), 12); // the parent is itself
        var before = 0.0;
        for (var r = 0.01; r <= 2; r += 0.01)
        {
            var y = curve.Ratio(r);
            Assert.True(y > before, $"K {k}: not increasing at {r}");
            Assert.Equal(r, curve.Inverse(y), 9);
            before = y;
        }
    }

    [Fact]
    public void A_positive_K_makes_a_smaller_model_relatively_faster_and_lets_the_search_spend_more_summed_time()
    {
        var curve = new SizeCurve(0.2);
        Assert.True(curve.Ratio(0.5) < 0.5);
        // for 1.5x the summed blocks may be ~71% of the parent's, not 67%
        Assert.Equal(0.708, curve.Inverse(1 / 1.5), 3);
        var model = new TimeModel(ParentSummed: 4, ParentWhole: 6, curve);
        Assert.Equal(6, model.Seconds(4), 12);
        Assert.Equal(1.5, model.Speedup(model.SummedFor(4)), 9);
        Assert.Equal(4, model.Seconds(model.SummedFor(4)), 9);
    }

    [Fact]
    public void The_fit_recovers_K_from_exact_samples_and_ignores_what_it_cannot_fit()
    {
        var truth = new SizeCurve(0.15);
        (double, double) Sample(double r) => (r * 4, truth.Ratio(r) * 6); // parent summed 4 s, whole 6 s
        Assert.Equal(0.15, SizeCurve.Fit([Sample(0.9), Sample(0.7), Sample(0.45)], 4, 6).K, 9);
        Assert.Equal(SizeCurve.Additive, SizeCurve.Fit([], 4, 6));
        Assert.Equal(SizeCurve.Additive, SizeCurve.Fit([(4, 7)], 4, 6)); // a sample of the parent's size says nothing of the slope
        // timings that no increasing curve explains are held to the bounds
        Assert.Equal(SizeCurve.MaxK, SizeCurve.Fit([(2, 0.5)], 4, 6).K);
        Assert.Equal(SizeCurve.MinK, SizeCurve.Fit([(2, 6)], 4, 6).K);
        Assert.Throws<ArgumentOutOfRangeException>(() => SizeCurve.Fit([], 0, 6));
    }

    static readonly ModelConfig Parent = ModelConfig.Llama(vocab: 64, hidden: 32, layers: 8, heads: 4, kvHeads: 2, intermediate: 64);
    static readonly AttentionConfig[] Attention = [AttentionConfig.Gqa(2), AttentionConfig.Gqa(1), AttentionConfig.NoOp];
    static readonly FfnConfig[] Ffn = [FfnConfig.SwiGlu(64), FfnConfig.SwiGlu(32), FfnConfig.NoOp];

    [Fact]
    public void Measure_samples_the_same_architectures_every_time_from_the_library_at_three_sizes()
    {
        var samples = MeasureStage.Samples(Parent, Attention, Ffn);
        Assert.Equal(3, samples.Count);
        Assert.Equal(samples.Select(s => s.Blocks), MeasureStage.Samples(Parent, Attention, Ffn).Select(s => s.Blocks));
        Assert.All(samples, s => Assert.All(s.Blocks, b => Assert.Contains(b.Attention, Attention)));
        Assert.All(samples, s => Assert.All(s.Blocks, b => Assert.Contains(b.Ffn, Ffn)));
        double Size(ModelConfig m) => m.Blocks.Sum(b => (double)Roofline.BlockParameters(m, b)) / Parent.Blocks.Sum(b => (double)Roofline.BlockParameters(Parent, b));
        Assert.InRange(Size(samples[0]), 0.70, 0.80); // near 75%, 45% and 20% of the parent's block parameters
        Assert.InRange(Size(samples[1]), 0.40, 0.50);
        Assert.InRange(Size(samples[2]), 0.15, 0.25);
        // a library with nothing but the parent's shapes has nothing to sample
        Assert.Empty(MeasureStage.Samples(Parent, [Attention[0]], [Ffn[0]]));
    }

    /// <summary>Measure's costs where every subblock takes 1 ms a step, the smaller ones less, the head 2 ms, and the parent
    /// 1.3 times its summed blocks; and the samples, timed whole on the curve of K = 0.25.</summary>
    const int Generate = 4;
    const double ParentSummed = 0.002 + 8 * 0.002, ParentWhole = 1.3 * ParentSummed;

    static (Dictionary<string, MeasuredCost> Costs, List<(ModelConfig, MeasuredCost)> Samples) FitInputs()
    {
        var costs = new Dictionary<string, MeasuredCost>
        {
            ["head"] = Step(0.002),
            ["attention.gqa2"] = Step(0.001), ["attention.gqa1"] = Step(0.0008), ["attention.no_op"] = Step(0),
            ["ffn.swiglu64"] = Step(0.001), ["ffn.swiglu32"] = Step(0.0005), ["ffn.no_op"] = Step(0),
            ["parent"] = Step(ParentWhole / Generate),
        };
        var truth = new SizeCurve(0.25);
        var samples = MeasureStage.Samples(Parent, Attention, Ffn).Select(m =>
        {
            var summed = 0.002 + m.Blocks.Sum(b => costs[$"attention.{b.Attention}"].DecodeSecondsPerToken + costs[$"ffn.{b.Ffn}"].DecodeSecondsPerToken);
            return (m, Step(ParentWhole * truth.Ratio(summed / ParentSummed) / Generate));
        }).ToList();
        return (costs, samples);

        static MeasuredCost Step(double seconds) => new(0, seconds, 0, 0, 0);
    }

    [Fact]
    public void Measure_fits_the_curve_to_the_samples_summed_blocks_and_whole_times()
    {
        var (costs, samples) = FitInputs();
        var fit = MeasureStage.Fit(Parent, costs, samples, Generate);
        Assert.Equal(ParentSummed * Generate, fit.ParentSummedSeconds, 9);
        Assert.Equal(0.25, fit.K, 9);
        Assert.Equal(3, fit.Samples.Count);
        Assert.All(fit.Samples, s => Assert.True(s.SummedSeconds < fit.ParentSummedSeconds));
    }

    [Fact]
    public void The_block_shapes_models_are_fitted_beside_the_samples()
    {
        // the samples on K = 0.25, and a shape model timed whole at its summed blocks over the parent's excess: K = 0
        var (costs, samples) = FitInputs();
        var shapeSummed = (0.002 + 4 * 0.001) * Generate;
        var additive = new MeasureStage.SampleTiming("ffn.swiglu64 x4", shapeSummed, ParentWhole * shapeSummed / (ParentSummed * Generate));

        var alone = MeasureStage.Fit(Parent, costs, samples, Generate);
        var beside = MeasureStage.Fit(Parent, costs, samples, Generate, [additive, additive, additive, additive, additive, additive]);
        Assert.Equal(0.25, alone.K, 9);
        Assert.Equal(alone.Samples.Count + 6, beside.Samples.Count);
        Assert.Contains(additive, beside.Samples);
        Assert.InRange(beside.K, 0, 0.2); // between the samples' 0.25 and the shape models' 0
    }
}
