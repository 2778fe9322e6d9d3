using Puzzle.Engine.Cost;

namespace Puzzle.Engine.Tests.Cost;

public class StepTimesTests
{
    [Fact]
    public void Runs_disturbed_in_different_steps_combine_into_the_undisturbed_time()
    {
        // each run slowed five-fold over half its decode steps, a different half: the fastest whole decode is 3 per
        // token, each step's fastest is the undisturbed 1
        var first = new StepTimes(1.0, [1, 1, 5, 5]);
        var second = new StepTimes(2.0, [5, 5, 1, 1]);
        Assert.Equal(3, Math.Min(first.DecodePerToken, second.DecodePerToken));

        var both = first.Faster(second);
        Assert.Equal(1.0, both.Prefill);
        Assert.Equal([1.0, 1, 1, 1], both.Decode);
        Assert.Equal(1, both.DecodePerToken);
        Assert.Equal(both.Decode, second.Faster(first).Decode); // in either order
    }

    [Fact]
    public void Timings_of_different_lengths_do_not_combine()
    {
        var error = Assert.Throws<ArgumentException>(() => new StepTimes(1, [1, 1]).Faster(new StepTimes(1, [1, 1, 1])));
        Assert.Contains("2 and 3 decode steps", error.Message);
    }
}
