using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Heal;

/// <summary>Heal makes no held-out check twice: its check before training is the guard's step-0 point
/// (<see cref="Learner{T}.StartingLoss"/>), and it reports as the check after training a check it already made of the
/// weights it publishes, and only such a check.</summary>
public class HealChecksTests
{
    /// <summary>Fits w·x to 2x from w = 1 over 40 steps (Adam: about lr per step), checked at 0, 10, 20, 30 and 40 against a held-out target; each
    /// check's metrics carry its own loss, so a test can tell which one was taken.</summary>
    static (HeldoutGuard Guard, LmMetrics Before, LmMetrics? Last, int Evaluations) Train(double heldoutTarget, double lr = 0.05, TrainCheckpoints? checkpoints = null, int? killAfter = null)
    {
        Fixtures.Torch();
        var w = new Parameter(ones(1, 1));
        var options = new TrainOptions { Tokens = 40, LearningRate = lr, WarmupSteps = 0, MinLrRatio = 1, WeightDecay = 0, GradClip = 0 };
        LmMetrics Check() => new(16, 3.0, 0.1, Math.Abs(w.item<float>() - heldoutTarget), 0.5);
        var before = Check(); // as Heal checks the assembled model before training
        LmMetrics? last = null;
        var evaluations = 0;
        var guard = new HeldoutGuard(() => { evaluations++; return (last = Check()).Kl!.Value; }, evaluations: 4);
        var calls = 0;
        Tensor Loss(Tensor x) => ++calls > killAfter ? throw new InvalidOperationException("killed") : Scalars.Square(x.matmul(w) - 2 * x).mean();
        try
        {
            Trainer.RunTogether([new Learner<Tensor>([("w", w)], Loss, Checkpoints: checkpoints, Guard: guard, StartingLoss: before.Kl)],
                Enumerable.Repeat(0, 1000).Select(_ => ones(4, 1)), b => b, 1, options);
        }
        catch (InvalidOperationException) when (killAfter is not null) { }
        return (guard, before, last, evaluations);
    }

    [Fact]
    public void The_last_check_stands_for_the_weights_a_run_ends_with_when_they_are_its_best()
    {
        var (guard, before, last, _) = Train(heldoutTarget: 3, lr: 0.01); // every step brings w nearer 3 (w ≈ 1.4 at the end): the last is the best
        Assert.Equal(40, guard.BestStep);
        Assert.Same(last, HealStage.Checked(guard, before, last));
        Assert.Equal(guard.Best, HealStage.Checked(guard, before, last)!.Kl);
    }

    [Fact]
    public void The_check_before_stands_for_the_assembled_weights_when_no_step_beat_them()
    {
        var (guard, before, last, _) = Train(heldoutTarget: 0.5); // training moves w away from 0.5
        Assert.Equal(0, guard.BestStep);
        Assert.Same(before, HealStage.Checked(guard, before, last));
    }

    [Fact]
    public void Weights_best_between_the_first_and_last_steps_are_checked_again()
    {
        var (guard, before, last, _) = Train(heldoutTarget: 1.6); // training overshoots 1.6 on its way to 2
        Assert.InRange(guard.BestStep, 1, 39);
        Assert.Null(HealStage.Checked(guard, before, last));
    }

    [Fact]
    public void The_check_before_is_the_first_point_and_a_resumed_run_that_checked_nothing_itself_checks_its_weights_again()
    {
        using var dir = new TempDir();
        var checkpoints = new TrainCheckpoints(dir.Path, every: 10);
        var (stopped, first, _, measured) = Train(heldoutTarget: 3, lr: 0.01, checkpoints, killAfter: 25);
        Assert.Equal(20, checkpoints.LatestStep);
        Assert.Equal(new HeldoutPoint(0, 0, first.Kl!.Value), stopped.Points[0]); // the check before, given
        Assert.Equal(2, measured); // steps 10 and 20: not step 0
        var (resumed, before, last, again) = Train(heldoutTarget: 3, lr: 0.01, checkpoints);
        Assert.Equal(stopped.Points.Take(3), resumed.Points.Take(3)); // from the checkpoint at step 20
        Assert.Equal(2, again); // steps 30 and 40
        Assert.Equal(40, resumed.BestStep);
        Assert.Same(last, HealStage.Checked(resumed, before, last)); // checked at step 40 in this process
        // a guard whose best point came with the resumed state: no check of this process stands for it
        Assert.Null(HealStage.Checked(resumed, before, lastCheck: null));
    }
}
