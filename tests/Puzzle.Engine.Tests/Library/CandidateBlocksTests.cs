using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

/// <summary>Score's candidates with <c>scoring.blocks: combined</c>: a pairing run as two half blocks is the whole block.</summary>
public class CandidateBlocksTests
{
    [Fact]
    public void A_pairing_run_as_its_attention_half_then_its_ffn_half_is_the_whole_block_with_both_variants_weights()
    {
        using var dir = new TempDir();
        var config = ParentBlock.Config(kvHeads: 4);
        using var parent = ParentBlock.Create(config, seed: 1);
        var spec = SpecLoader.Parse("""
            name: t
            parent: { pretrain: {} }
            data: { npm: [{ package: a@1, files: x.txt }] }
            search_space:
              attention: { kv_heads: [2], linear: false, no_op: false }
              ffn: { ratios: [0.5], round_to: 16, linear: false, no_op: false }
            scoring: { blocks: combined }
            """, "t.yaml", dir.Path);
        var library = VariantCatalog.For(config, spec.SearchSpace.Alternatives);
        // "trained" weights of the two variants, as their BLD jobs write them
        var trained = new Dictionary<string, DecoderBlock>();
        var files = new Dictionary<string, string>();
        manual_seed(7);
        foreach (var v in library.Where(v => !v.IsParent))
        {
            var block = trained[v.Id] = new DecoderBlock(config, v.AsBlock);
            using (no_grad())
                foreach (var (_, p) in block.named_parameters()) p.add_(0.05 * randn_like(p));
            files[v.Id] = Path.Combine(dir.Path, v.Name + ".safetensors");
            SafeTensorsWriter.Write(files[v.Id], block.named_parameters().ToDictionary(p => "model.layers.0." + p.name, p => (Tensor)p.parameter));
        }
        var candidates = ScoreCandidate.Of(config, spec.SearchSpace.Alternatives, spec.Bld.Mode, spec.Scoring.Blocks, library, 0);
        Assert.Equal(["layer0.block.kv2+ratio0.5", "layer0.block.kv2+ratio1", "layer0.block.kv4+ratio0.5"], candidates.Select(c => c.Id).Order());

        using var x = ParentBlock.Activations(seed: 3);
        var (cos, sin) = ParentBlock.Rope(config, x.shape[1]);
        var seen = new List<string>();
        using var blocks = new CandidateBlocks(config, parent, candidates, v => files.GetValueOrDefault(v.Id));
        using var _ = no_grad();
        blocks.Forward(x, cos, sin, 0, (id, output) =>
        {
            seen.Add(id);
            var pair = candidates.Single(c => c.Id == id).Pair!;
            // the whole block, assembled by hand: each half's weights from its variant's file, or the parent's own
            using var expected = new DecoderBlock(config, pair.Block.AsBlock);
            var attention = pair.Attention.IsParent ? parent : trained[pair.Attention.Id];
            var ffn = pair.Ffn.IsParent ? parent : trained[pair.Ffn.Id];
            var from = attention.named_parameters().Where(p => p.name.StartsWith("self_attn") || p.name.StartsWith("input_layernorm"))
                .Concat(ffn.named_parameters().Where(p => p.name.StartsWith("mlp") || p.name.StartsWith("post_attention_layernorm")))
                .ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in expected.named_parameters()) p.copy_(from[name]);
            using var want = expected.Forward(x, cos, sin, null, 0);
            Assert.True(allclose(want, output, rtol: 1e-5, atol: 1e-6), $"{id}: max difference {(want - output).abs().max().item<float>()}");
        });
        Assert.Equal(candidates.Select(c => c.Id).Order(), seen.Order());
    }
}
