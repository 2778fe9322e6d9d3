using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Tests.Training;

/// <summary>Warm-up is a count of optimizer steps, and a budget that leaves it little room is warned about.</summary>
public class WarmupTests
{
    static TrainOptions Options(long tokens, long warmup) => new() { Tokens = tokens, LearningRate = 1e-3, WarmupSteps = warmup };

    [Fact]
    public void Warm_up_takes_the_same_steps_whatever_the_budget()
    {
        // 100 and 10,000 steps of 1,000 tokens: 10 warm-up steps in both, where a fraction gave 5 and 500
        Assert.Equal(10, TrainingRun.WarmupSteps(Options(100_000, 10).Steps(1000), Options(100_000, 10)));
        Assert.Equal(10, TrainingRun.WarmupSteps(Options(10_000_000, 10).Steps(1000), Options(10_000_000, 10)));
        // a run shorter than its warm-up warms up for the whole run
        Assert.Equal(4, TrainingRun.WarmupSteps(4, Options(4000, 10)));
        var schedule = new CosineSchedule(1e-3, 100, 10);
        Assert.Equal(1e-4, schedule.At(0), 12);
        Assert.Equal(1e-3, schedule.At(9), 12);
        Assert.Equal(1e-3, schedule.At(10), 12);
        Assert.Equal(1e-4, schedule.At(100), 12);
    }

    [Fact]
    public void A_budget_under_twice_the_warm_up_is_warned_about_with_the_keys_to_change()
    {
        Assert.Null(Options(20_000, 10).WarmupWarning(1000, "bld")); // 20 steps: warm-up is half
        var few = Options(15_000, 10).WarmupWarning(1000, "bld");
        Assert.NotNull(few);
        Assert.Contains("15 optimizer steps", few);
        Assert.Contains("is at its peak for little of the run", few);
        var none = Options(4_000, 10).WarmupWarning(1000, "gkd");
        Assert.Contains("never reaches its peak", none);
        Assert.Contains("raise gkd.tokens or lower gkd.warmup_steps", none);
        Assert.Null(Options(4_000, 0).WarmupWarning(1000, "gkd"));
    }

    [Fact]
    public void The_learning_rate_scales_down_with_width_above_the_reference()
    {
        var bld = new BldSpec().Training; // lr 1e-3 up to width 192
        Assert.Equal(1e-3, bld.LrAt(64));
        Assert.Equal(1e-3, bld.LrAt(192));
        Assert.Equal(1e-3 * 192 / 2048, bld.LrAt(2048), 15);
        Assert.Equal(1e-3 * 192 / 2048, bld.OptionsAt(2048).LearningRate, 15);
        Assert.Equal(1e-3, (bld with { LrReferenceWidth = 0 }).LrAt(4096));
        Assert.Equal(3e-4 * 192 / 4096, new GkdSpec().Training.LrAt(4096), 15);
        Assert.Equal(0, new PretrainSpec().Training.LrReferenceWidth); // a parent pretrained here is small: its lr as given
    }
}
