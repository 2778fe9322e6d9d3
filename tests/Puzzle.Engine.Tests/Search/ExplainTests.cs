using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Tests.Search;

public class ExplainTests
{
    [Fact]
    public void Table_lists_every_layer_choice_and_the_totals_against_the_limits()
    {
        var p = Instances.Random(50, fraction: 0.7);
        var a = PuzzleSearch.Solve(p, SearchMethod.Mip)[0];

        var table = Explain.Table(a, p);

        foreach (var c in a.Layers)
        {
            Assert.Contains(table.Split('\n'), line => line.StartsWith($"{c.Layer} ") && line.Contains(c.Attention));
            Assert.Contains(table.Split('\n'), line => line.StartsWith($"{c.Layer} ") && line.Contains(c.Ffn));
        }
        Assert.Contains("time_s limit", table);
        Assert.Contains(" ok ", table);
        Assert.DoesNotContain("OVER", table);

        var tighter = p with { Limits = [.. p.Limits.Select(l => l with { Max = l.Max / 2 })] };
        Assert.Contains("OVER", Explain.Table(a, tighter));
    }
}

public class ExplainFormatTests
{
    [Fact]
    public void Amounts_read_in_units_not_exponents()
    {
        Assert.Equal("1.13 MiB", Explain.Of("memory_bytes", 1.1804e6));
        Assert.Equal("512 B", Explain.Of("memory_bytes", 512));
        Assert.Equal("2 GiB", Explain.Of("memory_bytes", 2.0 * (1 << 30)));
        Assert.Equal("12.35 ms", Explain.Of("time_s", 0.012345));
        Assert.Equal("45.6 µs", Explain.Of("time_s", 45.6e-6));
        Assert.Equal("1,180,400", Explain.Of("params", 1_180_400));
    }
}

/// <summary><c>puzzle search --explain</c> prints explain.txt: a child the closed loop measured short of its target must
/// not read as one that meets it.</summary>
public class ExplainClosedLoopTests
{
    static ClosedLoopRound Round(int round, double speedup, bool met) => new(round, [0.002], 0.0024, 0.0033 / speedup, 0.0033, speedup, met);

    [Fact]
    public void A_closed_loop_that_ended_short_of_a_time_constraint_says_so_beside_the_architecture()
    {
        var missed = new ClosedLoopSummary([Round(1, 1.21, false), Round(2, 1.26, false), Round(3, 1.27, false)], false, true);

        var line = Explain.ClosedLoop(missed);

        Assert.Equal("closed loop: the search timed its child 3 times: 1.21x, 1.26x, 1.27x (still short of a time constraint as measured: " +
                     "the child below misses its target on this machine; the predicted speedup and the 'ok' rows are the cost model's)", line);
        Assert.Equal("closed loop: the search timed its child 1 time: 1.31x (meets the time constraints as measured)",
            Explain.ClosedLoop(new ClosedLoopSummary([Round(1, 1.31, true)], true, false)));
        Assert.Null(Explain.ClosedLoop(new ClosedLoopSummary([], null, false)));
    }
}
