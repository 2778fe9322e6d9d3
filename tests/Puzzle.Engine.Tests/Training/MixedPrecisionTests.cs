using Puzzle.Engine.Runtime;
using Puzzle.Engine.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Training;

/// <summary>bfloat16 weights train against float32 masters; float32 weights train in place, as before.</summary>
public class MixedPrecisionTests
{
    /// <summary>Fits w·x to 2x for 200 Adam steps of at most lr = 1e-4 each, starting from w = 1.</summary>
    static (Parameter W, IReadOnlyList<CurvePoint> Curve) Fit(ScalarType dtype)
    {
        Fixtures.Torch();
        var w = new Parameter(ones(1, 1, dtype: dtype));
        var options = new TrainOptions { Tokens = 200, LearningRate = 1e-4, WarmupSteps = 0, MinLrRatio = 1, WeightDecay = 0, GradClip = 0 };
        var batches = Enumerable.Repeat(0, 1000).Select(_ => ones(4, 1, dtype: dtype));
        var curve = Trainer.Run([("w", w)], batches, x => Scalars.Square((x.matmul(w) - 2 * x).to(float32)).mean(), 1, options);
        return (w, curve);
    }

    [Fact]
    public void Updates_smaller_than_bfloat16s_resolution_accumulate_in_the_float32_masters()
    {
        // bfloat16's spacing at 1.0 is 2^-7 (0.0078): one 1e-4 step rounds back to 1.0, 200 of them do not
        var (w, curve) = Fit(ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, w.dtype);
        Assert.Equal(200, curve[^1].Step);
        var value = w.to(float32).item<float>();
        Assert.InRange(value, 1.0 + 0.01, 1.0 + 0.03);
    }

    [Fact]
    public void Float32_parameters_train_in_place()
    {
        var (w, _) = Fit(ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, w.dtype);
        Assert.InRange(w.item<float>(), 1.0 + 0.015, 1.0 + 0.025);
    }
}
