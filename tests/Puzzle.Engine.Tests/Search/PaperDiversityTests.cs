using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;
using SearchOption = Puzzle.Engine.Search.SearchOption; // System.IO has one too

namespace Puzzle.Engine.Tests.Search;

/// <summary>The paper's diversity rule (the default): the k-th solution keeps at most α·L whole blocks (attention and
/// FFN both equal) of every earlier one, checked against exhaustive enumeration.</summary>
public class PaperDiversityTests
{
    /// <summary>Layers where both architectures chose the same attention and the same FFN (the same block).</summary>
    static int SameBlocks(IReadOnlyList<LayerChoice> a, IReadOnlyList<LayerChoice> b) => a.Zip(b).Count(p => p.First == p.Second);

    static int Allowed(double alpha, int layers) => Math.Min((int)Math.Floor(alpha * layers + 1e-9), layers - 1);

    [Theory]
    [InlineData(0.25, 0)]
    [InlineData(0.5, 0)]
    [InlineData(0.75, 0)]
    [InlineData(0.25, 2)]
    [InlineData(0.5, 4)]
    public void Each_further_solution_is_the_best_that_keeps_at_most_alpha_L_blocks_of_the_earlier_ones(double alpha, int blockLayers)
    {
        var checkedSolutions = 0;
        for (var seed = 0; seed < 30; seed++)
        {
            var p = Instances.Random(seed, layers: 4, blockLayers: blockLayers);
            var feasible = Instances.All(p).Where(c => c.Meets(p.Limits)).ToList();
            if (feasible.Count == 0) continue;
            var found = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 3, diversity: alpha);
            var allowed = Allowed(alpha, p.Layers.Count);
            for (var k = 0; k <= found.Count && k < 3; k++)
            {
                var earlier = found.Take(k).ToList();
                var best = feasible.Where(c => earlier.All(e => SameBlocks(c.Layers, e.Layers) <= allowed)).MinBy(c => c.Score);
                if (k == found.Count)
                {
                    Assert.True(best is null, $"seed {seed}: the MIP stopped after {k} solutions, but one scoring {best?.Score:R} keeps the rule");
                    break;
                }
                Assert.True(best is not null, $"seed {seed}: solution {k + 1} breaks the rule or a limit, no architecture keeps them");
                foreach (var e in earlier)
                    Assert.True(SameBlocks(found[k].Layers, e.Layers) <= allowed,
                        $"seed {seed}: solution {k + 1} keeps {SameBlocks(found[k].Layers, e.Layers)} blocks of an earlier one, at most {allowed} allowed");
                Assert.True(found[k].Meets(p), $"seed {seed}: solution {k + 1} breaks a limit");
                Instances.AssertClose(best!.Score, found[k].Score);
                checkedSolutions++;
            }
        }
        Assert.True(checkedSolutions >= 40, $"only {checkedSolutions} solutions were checked: the instances are too tight");
    }

    [Fact]
    public void A_layer_counts_as_kept_only_when_its_whole_block_is()
    {
        // Attention is expensive to change, an FFN cheap. At α = 0.5 the paper's rule lets the runner-up keep 2 of 4
        // whole blocks: it keeps every attention choice and changes 2 FFNs. Counting subblocks (at most 4 of 8
        // slots kept) it must change 4 FFNs.
        static SearchOption O(string id, double score, double time) => new(id, score, new Dictionary<string, double> { ["time_s"] = time }, 0);
        var p = new SearchProblem(Enumerable.Range(0, 4).Select(l => new SearchLayer(l,
                [O("attn", 0, 1), O("attn-small", 5, 0.5)],
                [O("ffn", 0, 1), O("ffn-small", 0.1, 0.5)])).ToList(),
            new Dictionary<string, double>(), [new ResourceLimit("time_s", 8, "time ≤ parent")]);

        var found = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 2, diversity: 0.5);
        var subblocks = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 2, diversity: 0.5, unit: DiversityUnit.Subblock);

        Assert.Equal(2, found.Count);
        Assert.All(found[0].Layers, c => Assert.Equal(("attn", "ffn"), (c.Attention, c.Ffn)));
        Assert.All(found[1].Layers, c => Assert.Equal("attn", c.Attention));
        Assert.Equal(2, found[1].Layers.Count(c => c.Ffn == "ffn-small"));
        Instances.AssertClose(0.2, found[1].Score);
        Assert.All(subblocks[1].Layers, c => Assert.Equal(("attn", "ffn-small"), (c.Attention, c.Ffn)));
        Instances.AssertClose(0.4, subblocks[1].Score);
    }
}
