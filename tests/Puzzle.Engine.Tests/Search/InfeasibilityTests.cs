using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Tests.Search;

public class InfeasibilityTests
{
    [Fact]
    public void A_limit_that_cannot_be_met_alone_reports_the_lowest_reachable_total()
    {
        var p = Instances.Random(21);
        var all = Instances.All(p);
        var fastest = all.Min(c => c.Costs["time_s"]);
        var tight = p with
        {
            Limits = [p.Limits[1], new ResourceLimit("time_s", fastest * 0.9, "throughput ≥ 9× parent")
                { Describe = t => $"{Instances.Parent(p, "time_s") / t:0.##}× parent" }],
        };

        var e = Assert.Throws<SearchInfeasibleException>(() => PuzzleSearch.Solve(tight, SearchMethod.Mip));

        var unmet = Assert.Single(e.Unmet);
        Assert.Equal("throughput ≥ 9× parent", unmet.Label);
        Assert.True(unmet.EvenAlone);
        Instances.AssertClose(fastest, unmet.BestReachable);
        Assert.Contains("\"throughput ≥ 9× parent\"", e.Message);
        Assert.Contains($"{Instances.Parent(p, "time_s") / fastest:0.##}× parent", e.Message);
    }

    [Fact]
    public void Limits_that_conflict_report_each_ones_best_under_the_others()
    {
        for (var seed = 30; seed < 40; seed++)
        {
            var p = Instances.Random(seed);
            var all = Instances.All(p);
            // Memory at 25% of the parent; time just below the fastest that memory limit allows.
            var memory = new ResourceLimit("memory_bytes", 0.25 * Instances.Parent(p, "memory_bytes"), "memory ≤ 0.25× parent");
            if (!all.Any(c => c.Meets([memory]))) continue;
            var fastestWithin = all.Where(c => c.Meets([memory])).Min(c => c.Costs["time_s"]);
            var time = new ResourceLimit("time_s", fastestWithin * 0.98, "time ≤ 0.98× best");
            if (all.Min(c => c.Costs["time_s"]) > time.Max) continue; // the time limit alone would be unmeetable
            var leanestWithin = all.Where(c => c.Meets([time])).Min(c => c.Costs["memory_bytes"]);
            var conflicting = p with { Limits = [memory, time] };

            var e = Assert.Throws<SearchInfeasibleException>(() => PuzzleSearch.Solve(conflicting, SearchMethod.Mip));

            Assert.Equal(2, e.Unmet.Count);
            var m = e.Unmet.Single(u => u.Label == memory.Label);
            var t = e.Unmet.Single(u => u.Label == time.Label);
            Assert.False(m.EvenAlone);
            Assert.False(t.EvenAlone);
            Instances.AssertClose(fastestWithin, t.BestReachable, 1e-6);
            Instances.AssertClose(leanestWithin, m.BestReachable, 1e-6);
            Assert.Contains(memory.Label, e.Message);
            Assert.Contains(time.Label, e.Message);
            return;
        }
        Assert.Fail("no seed gave two conflicting limits");
    }

    [Fact]
    public void The_baselines_report_infeasibility_the_same_way()
    {
        var p = Instances.Random(22);
        var tight = p with { Limits = [new ResourceLimit("time_s", 0.01, "time ≤ 0.01 s")] };
        foreach (var method in new[] { SearchMethod.Greedy, SearchMethod.MaxParams })
        {
            var e = Assert.Throws<SearchInfeasibleException>(() => PuzzleSearch.Solve(tight, method));
            Assert.True(Assert.Single(e.Unmet).EvenAlone);
        }
    }
}
