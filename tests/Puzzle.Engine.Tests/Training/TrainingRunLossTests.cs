using Puzzle.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Training;

public sealed class TrainingRunLossTests
{
    static TrainingRun Run() => new([("w", new TorchSharp.Modules.Parameter(ones(1, 1)))], 4,
        new TrainOptions { Tokens = 40, LearningRate = 0.05, WarmupSteps = 0, MinLrRatio = 1, WeightDecay = 0, GradClip = 0 });

    [Fact]
    public void A_loss_that_is_not_finite_at_the_first_step_blames_the_starting_weights_and_later_blames_training()
    {
        Fixtures.Torch();
        using (var first = Run())
        {
            first.RecordStep(tensor(float.NaN));
            var e = Assert.Throws<InvalidOperationException>(() => first.Flush());
            Assert.StartsWith("the loss was NaN at the first step, before any update: the starting weights or the parent's outputs are not finite", e.Message);
        }
        using var later = Run();
        later.RecordStep(tensor(1f));
        later.RecordStep(tensor(float.PositiveInfinity));
        var diverged = Assert.Throws<InvalidOperationException>(() => later.Flush());
        Assert.StartsWith("the loss became Infinity at step 1: training diverged", diverged.Message);
    }
}
