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
