using System.Runtime.InteropServices;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Training;

/// <summary>Training keeps the weights with the lowest held-out loss, the starting weights included.</summary>
public class HeldoutGuardTests
{
    /// <summary>Fits w·x to 2x from w = 1 (training text) while the held-out loss rewards w near <paramref name="heldoutTarget"/>.</summary>
    /// <param name="killAfter">throw in the loss of the batch after this many (a killed process)</param>
    /// <param name="offload">the guard's folder for its best weights (null: beside the model)</param>
    static (double W, HeldoutGuard Guard) Fit(double lr, double heldoutTarget, TrainCheckpoints? checkpoints = null, int? killAfter = null,
        string? offload = null)
    {
        Fixtures.Torch();
        var w = new Parameter(ones(1, 1));
        var options = new TrainOptions { Tokens = 40, LearningRate = lr, WarmupSteps = 0, MinLrRatio = 1, WeightDecay = 0, GradClip = 0 };
        var batches = Enumerable.Repeat(0, 1000).Select(_ => ones(4, 1));
        var guard = new HeldoutGuard(() => Math.Abs(w.item<float>() - heldoutTarget), evaluations: 4, offload);
        var calls = 0;
        Tensor Loss(Tensor x) => ++calls > killAfter ? throw new InvalidOperationException("killed") : Scalars.Square(x.matmul(w) - 2 * x).mean();
        Trainer.Run([("w", w)], batches, Loss, 1, options, checkpoints: checkpoints, guard: guard);
        return (w.item<float>(), guard);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_run_that_only_makes_held_out_loss_worse_ends_with_its_starting_weights(bool offloaded)
    {
        using var dir = new TempDir();
        var (w, guard) = Fit(lr: 0.05, heldoutTarget: 0.5, offload: offloaded ? dir["best"] : null); // training moves w towards 2, held-out text wants 0.5
        Assert.Equal(1.0, w);
        Assert.Equal(0, guard.BestStep);
        Assert.Equal(0.5, guard.Best, 6);
        Assert.True(guard.Last > guard.Initial, $"last {guard.Last} initial {guard.Initial}");
        Assert.Equal([0L, 10, 20, 30, 40], guard.Points.Select(p => p.Step));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_run_that_helps_ends_with_the_best_weights_it_saw(bool offloaded)
    {
        using var dir = new TempDir();
        var (w, guard) = Fit(lr: 0.05, heldoutTarget: 1.6, offload: offloaded ? dir["best"] : null); // training overshoots 1.6 on its way to 2
        Assert.True(guard.BestStep > 0);
        Assert.Equal(Math.Abs(w - 1.6), guard.Best, 5);
        Assert.True(guard.Best < guard.Initial && guard.Best <= guard.Last);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_resumed_run_keeps_the_best_weights_from_before_the_interruption(bool offloaded)
    {
        using var dir = new TempDir();
        var offload = offloaded ? dir["best"] : null;
        var (expected, reference) = Fit(lr: 0.05, heldoutTarget: 1.6);
        var checkpoints = new TrainCheckpoints(dir["resume"], every: 10);
        Assert.Throws<InvalidOperationException>(() => Fit(lr: 0.05, heldoutTarget: 1.6, checkpoints, killAfter: 25, offload));
        Assert.Equal(20, checkpoints.LatestStep);
        var (w, resumed) = Fit(lr: 0.05, heldoutTarget: 1.6, checkpoints, offload: offload);
        Assert.Equal(reference.Points.Skip(3).Select(p => p.Loss), resumed.Points.Skip(3).Select(p => p.Loss));
        Assert.Equal(reference.BestStep, resumed.BestStep);
        Assert.Equal(expected, w);
    }

    [Fact]
    public void A_starting_loss_already_measured_is_not_measured_again()
    {
        Fixtures.Torch();
        var w = new Parameter(ones(1, 1));
        var options = new TrainOptions { Tokens = 40, LearningRate = 0.05, WarmupSteps = 0, MinLrRatio = 1, WeightDecay = 0, GradClip = 0 };
        var evaluations = 0;
        using var guard = new HeldoutGuard(() => { evaluations++; return Math.Abs(w.item<float>() - 0.5); }, evaluations: 4);
        using var run = new TrainingRun([("w", w)], 4, options);
        guard.Begin(run, [("w", w)], startingLoss: 0.25); // lower than the evaluation would say: only the given number counts
        Assert.Equal(0, evaluations);
        Assert.Equal(new HeldoutPoint(0, 0, 0.25), guard.Points.Single());
        while (!run.Finished)
        {
            run.TakeStep(Scalars.Square(ones(4, 1).matmul(w) - 2).mean());
            guard.AfterStep(run);
        }
        guard.Finish(run);
        Assert.Equal(4, evaluations); // steps 10, 20, 30 and 40, none at step 0
        Assert.Equal(0, guard.BestStep); // every later loss (≥ 0.5) is worse than the given 0.25
        Assert.Equal(1f, w.item<float>());
    }

    [Fact]
    public void Offloaded_best_weights_of_a_cpu_model_live_in_mapped_files_that_go_with_the_guard()
    {
        Fixtures.Torch();
        using var dir = new TempDir();
        var w = new Parameter(ones(3, 2));
        var b = new Parameter(zeros(2));
        var options = new TrainOptions { Tokens = 40, LearningRate = 0.05, WarmupSteps = 0, MinLrRatio = 1, WeightDecay = 0, GradClip = 0 };
        var guard = new HeldoutGuard(() => Math.Abs(w.sum().item<float>() - 5), evaluations: 4, offload: dir["best"]);
        using var run = new TrainingRun([("w", w), ("b", b)], 4, options);
        guard.Begin(run, [("w", w), ("b", b)], startingLoss: 1.0);

        // one file per parameter, of its bytes, holding the starting weights
        Assert.Equal([24L, 8L], new[] { "0.bin", "1.bin" }.Select(f => new FileInfo(Path.Combine(dir["best"], f)).Length));
        Assert.Equal(Enumerable.Repeat(1f, 6), MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir["best"], "0.bin"))).ToArray());
        Assert.Equal([3L, 2L], guard.BestWeights["w"].shape);
        while (!run.Finished)
        {
            run.TakeStep(Scalars.Square(ones(4, 3).matmul(w) + b - 2).mean());
            guard.AfterStep(run);
        }
        Assert.True(guard.BestStep > 0); // training shrinks w, its sum from 6 towards the held-out 5: a later step is best
        Assert.Equal(guard.BestWeights["w"].data<float>().ToArray(),
            MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir["best"], "0.bin"))).ToArray()); // written through

        guard.Dispose();
        Assert.False(Directory.Exists(dir["best"]));
    }
}
