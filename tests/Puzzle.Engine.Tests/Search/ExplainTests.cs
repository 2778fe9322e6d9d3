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
