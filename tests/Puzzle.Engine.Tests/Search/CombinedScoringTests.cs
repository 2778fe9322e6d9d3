using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Search;
using static Puzzle.Engine.Pipeline.Stages.SearchStage;

namespace Puzzle.Engine.Tests.Search;

/// <summary>
/// <c>scoring.blocks: combined</c>: the search adds up the scores of the (attention, FFN) pairings it chooses, so an
/// interaction the subblock scores cannot see (dropping a whole layer costs far more than its two no-ops alone) steers it.
/// </summary>
public class CombinedScoringTests
{
    // two layers, each with its own attention and FFN or a no-op of either; every kept subblock costs 1 s, a no-op 0
    internal static readonly ModelConfig Parent = ModelConfig.Llama(vocab: 64, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64);

    internal static PipelineSpec Spec(ScoreBlocks blocks) => SpecLoader.Parse($$"""
        name: t
        parent: { pretrain: {} }
        data: { npm: [{ package: a@1.0.0, files: x.txt }] }
        search_space:
          attention: { kv_heads: [], linear: false, no_op: true }
          ffn: { ratios: [], linear: false, no_op: true }
        scoring: { blocks: {{blocks.ToString().ToLowerInvariant()}} }
        constraints: { throughput_vs_parent: 2.0 }
        """, "t.yaml", Path.GetTempPath());

    static MeasuredCost Cost(string job) => job.EndsWith(".no_op") || job.EndsWith(".head")
        ? new MeasuredCost(0, 0, 0, 0, 0)
        : job.EndsWith(".parent") ? new MeasuredCost(4, 0, 400, 1600, 0) // the whole parent: its four subblocks
        : new MeasuredCost(1, 0, 100, 400, 0);

    /// <summary>Layer 0's no-ops are cheap alone (0.1 each) but dropping the layer is not (2.0); layer 1's add up (0.3 + 0.3).</summary>
    static ScoreStage.LayerScores Layer(int l, double attention, double ffn, double both) => JsonSerializer.Deserialize<ScoreStage.LayerScores>($$"""
        {
          "parent": { "kl": 0, "lm_loss": 3.0, "top1": 0.5, "agreement": 1 },
          "variants": {
            "layer{{l}}.attention.no_op": { "kl": {{attention}}, "lm_loss": 3.1, "top1": 0.4, "agreement": 0.9 },
            "layer{{l}}.ffn.no_op": { "kl": {{ffn}}, "lm_loss": 3.1, "top1": 0.4, "agreement": 0.9 },
            "layer{{l}}.block.no_op+ratio1": { "kl": {{attention}}, "lm_loss": 3.1, "top1": 0.4, "agreement": 0.9 },
            "layer{{l}}.block.kv2+no_op": { "kl": {{ffn}}, "lm_loss": 3.1, "top1": 0.4, "agreement": 0.9 },
            "layer{{l}}.block.no_op+no_op": { "kl": {{both}}, "lm_loss": 5.0, "top1": 0.1, "agreement": 0.2 }
          }
        }
        """, PuzzleJson.Options)!;

    internal static readonly IReadOnlyList<ScoreStage.LayerScores> Scores = [Layer(0, 0.1, 0.1, 2.0), Layer(1, 0.3, 0.3, 0.6)];

    static (Architecture Chosen, IReadOnlyList<LayerChoice> AsLibrary) Search(ScoreBlocks blocks)
    {
        var spec = ArchitectureProblem.Settings.Of(Spec(blocks));
        var (problem, _, _) = ArchitectureProblem.Build(spec, Parent, Scores, Cost);
        var chosen = PuzzleSearch.Solve(problem, SearchMethod.Mip)[0];
        return (chosen, ArchitectureProblem.AsLibraryChoices(Parent, spec, chosen.Layers));
    }

    static bool Dropped(LayerChoice l) => l.Attention.EndsWith(".attention.no_op") && l.Ffn.EndsWith(".ffn.no_op");

    [Fact]
    public void Summed_subblock_scores_drop_the_layer_whose_no_ops_are_cheap_alone()
    {
        var (chosen, layers) = Search(ScoreBlocks.Subblocks);
        Assert.Equal(0.2, chosen.Score, 9);
        Assert.True(Dropped(layers[0]), $"{layers[0]}");
        Assert.Equal(["layer1.attention.kv2", "layer1.ffn.ratio1"], [layers[1].Attention, layers[1].Ffn]);
    }

    [Fact]
    public void Combined_scores_make_the_search_keep_that_layer_and_use_the_pairings_own_score()
    {
        var (chosen, layers) = Search(ScoreBlocks.Combined);
        // the cheapest way to halve the time without the 2.0 drop: one no-op in each layer (0.1 + 0.3), not layer 1 dropped (0.6)
        Assert.Equal(0.4, chosen.Score, 9);
        Assert.All(chosen.Layers, l => Assert.Equal("", l.Ffn)); // one choice per layer: the pairing
        Assert.DoesNotContain(layers, Dropped);
        Assert.All(layers, l => Assert.Single(new[] { l.Attention, l.Ffn }, id => id.EndsWith(".no_op")));
        // Heal takes weights by the library's (decoupled) variant ids
        Assert.All(layers, l => Assert.Matches($@"^layer{l.Layer}\.attention\.", l.Attention));
        Assert.All(layers, l => Assert.Matches($@"^layer{l.Layer}\.ffn\.", l.Ffn));
        Assert.Equal(VariantCatalog.ToModel(Parent, Spec(ScoreBlocks.Combined).SearchSpace.Alternatives, chosen.Layers).Blocks,
            VariantCatalog.ToModel(Parent, Spec(ScoreBlocks.Combined).SearchSpace.Alternatives, layers).Blocks);
    }

    [Fact]
    public void ShortGpt_drops_whole_layers_of_a_combined_problem_by_their_no_op_pairing()
    {
        var spec = Spec(ScoreBlocks.Combined);
        var (problem, _, _) = ArchitectureProblem.Build(ArchitectureProblem.Settings.Of(spec), Parent, Scores, Cost);
        var dropped = Baselines.ShortGpt(problem, [0.9, 0.1], ParentModel.VariantIds(Parent, spec.SearchSpace.Alternatives));
        Assert.NotNull(dropped);
        Assert.Equal(["layer0.block.kv2+ratio1", "layer1.block.no_op+no_op"], dropped.Layers.Select(l => l.Attention));
    }

    [Fact]
    public void Combined_scoring_scores_every_pairing_but_the_parents_own_and_coupled_bld_scores_blocks_either_way()
    {
        var spec = Spec(ScoreBlocks.Combined);
        var ids = ScoreCandidate.Of(Parent, spec.SearchSpace.Alternatives, spec.Bld.Mode, spec.Scoring.Blocks, VariantCatalog.For(Parent, spec.SearchSpace.Alternatives), 1).Select(c => c.Id).Order();
        Assert.Equal(["layer1.block.kv2+no_op", "layer1.block.no_op+no_op", "layer1.block.no_op+ratio1"], ids);
        var subblocks = Spec(ScoreBlocks.Subblocks);
        Assert.Equal(["layer1.attention.no_op", "layer1.ffn.no_op"],
            ScoreCandidate.Of(Parent, subblocks.SearchSpace.Alternatives, subblocks.Bld.Mode, subblocks.Scoring.Blocks, VariantCatalog.For(Parent, subblocks.SearchSpace.Alternatives), 1).Select(c => c.Id).Order());
        Assert.Equal(ScoreBlocks.Combined, ScoreCandidate.Blocks(BldMode.Coupled, subblocks.Scoring.Blocks));
    }
}
