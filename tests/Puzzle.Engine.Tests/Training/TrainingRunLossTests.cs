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

    /// <summary>Models trained together (a Heal process's group) fail together when one's loss diverges: the error, in
    /// every model's log, names the one that diverged.</summary>
    [Fact]
    public void A_loss_that_diverges_among_models_trained_together_names_its_model()
    {
        Fixtures.Torch();
        var (a, b) = (new TorchSharp.Modules.Parameter(ones(1, 1)), new TorchSharp.Modules.Parameter(ones(1, 1)));
        var options = new TrainOptions { Tokens = 40, LearningRate = 0.05, WarmupSteps = 0, MinLrRatio = 1, WeightDecay = 0, GradClip = 0, CurveEvery = 1 };
        static Tensor Fit(Tensor w, Tensor x) => (x.matmul(w) - 2 * x).square().mean();
        var calls = 0;
        var e = Assert.Throws<InvalidOperationException>(() => Trainer.RunTogether(
        [
            new Learner<Tensor>([("w", a)], x => Fit(a, x), Name: "child1"),
            new Learner<Tensor>([("w", b)], x => ++calls == 3 ? Fit(b, x) * float.NaN : Fit(b, x), Name: "uniform"),
        ], Enumerable.Repeat(0, 100).Select(_ => ones(4, 1)), x => x, 4, options));
        Assert.StartsWith("uniform: the loss became NaN at step 2: training diverged", e.Message);
    }
}
