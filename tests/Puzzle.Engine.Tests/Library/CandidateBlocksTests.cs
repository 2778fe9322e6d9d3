using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

/// <summary>Score's candidates: each is the whole block with its variants' weights in place, run as two halves, the
/// parent's own halves shared rather than copied.</summary>
public class CandidateBlocksTests
{
    [Fact]
    public void A_pairing_run_as_its_attention_half_then_its_ffn_half_is_the_whole_block_with_both_variants_weights()
    {
        using var dir = new TempDir();
        using var setup = new Setup(dir, "{ blocks: combined }", noOp: false);
        Assert.Equal(["layer0.block.kv2+ratio0.5", "layer0.block.kv2+ratio1", "layer0.block.kv4+ratio0.5"], setup.Candidates.Select(c => c.Id).Order());
        setup.AssertEachIsItsWholeBlock(c => (c.Pair!.Attention, c.Pair.Ffn));
    }

    [Fact]
    public void A_variant_runs_beside_the_parents_own_other_half_and_holds_only_its_own_weights()
    {
        using var dir = new TempDir();
        using var setup = new Setup(dir, "{}", noOp: true);
        Assert.Equal(["layer0.attention.kv2", "layer0.attention.no_op", "layer0.ffn.no_op", "layer0.ffn.ratio0.5"], setup.Candidates.Select(c => c.Id).Order());
        var parentOf = setup.Library.Where(v => v.IsParent).ToDictionary(v => v.Subblock);
        setup.AssertEachIsItsWholeBlock(c => c.Variant!.Subblock == Subblock.Attention ? (c.Variant, parentOf[Subblock.Ffn]) : (parentOf[Subblock.Attention], c.Variant));
        // the two trained variants' weights only: no copy of the parent's FFN beside the attention variants, nor of its attention beside the FFN ones
        Assert.Equal(setup.Trained.Values.Sum(b => b.parameters().Sum(p => p.numel())), setup.Blocks.OwnParameters);
    }

    /// <summary>A one-layer parent, a decoupled library over it whose trainable variants have "trained" weights in
    /// files as their BLD jobs write them, and the layer's candidates built from them.</summary>
    sealed class Setup : IDisposable
    {
        readonly ModelConfig _config = ParentBlock.Config(kvHeads: 4);
        readonly DecoderBlock _parent;
        public readonly IReadOnlyList<BlockVariant> Library;
        public readonly Dictionary<string, DecoderBlock> Trained = [];
        public readonly IReadOnlyList<ScoreCandidate> Candidates;
        public readonly CandidateBlocks Blocks;

        public Setup(TempDir dir, string scoring, bool noOp)
        {
            _parent = ParentBlock.Create(_config, seed: 1);
            var spec = SpecLoader.Parse($$"""
                name: t
                parent: { pretrain: {} }
                data: { npm: [{ package: a@1.0.0, files: x.txt }] }
                search_space:
                  attention: { kv_heads: [2], linear: false, no_op: {{(noOp ? "true" : "false")}} }
                  ffn: { ratios: [0.5], round_to: 16, linear: false, no_op: {{(noOp ? "true" : "false")}} }
                scoring: {{scoring}}
                """, "t.yaml", dir.Path);
            Library = VariantCatalog.For(_config, spec.SearchSpace.Alternatives);
            var files = new Dictionary<string, string>();
            manual_seed(7);
            foreach (var v in Library.Where(v => !v.IsParent && v.AsBlock != new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp)))
            {
                var block = Trained[v.Id] = new DecoderBlock(_config, v.AsBlock);
                using (no_grad())
                    foreach (var (_, p) in block.named_parameters()) p.add_(0.05 * randn_like(p));
                files[v.Id] = Path.Combine(dir.Path, v.Name + ".safetensors");
                SafeTensorsWriter.Write(files[v.Id], block.named_parameters().ToDictionary(p => "model.layers.0." + p.name, p => (Tensor)p.parameter));
            }
            Candidates = ScoreCandidate.Of(_config, spec.SearchSpace.Alternatives, spec.Bld.Mode, spec.Scoring.Blocks, Library, 0);
            Blocks = new CandidateBlocks(_config, _parent, Candidates, v => files.GetValueOrDefault(v.Id));
        }

        /// <summary>Every candidate's output is, bit for bit, the whole block assembled by hand from its two halves'
        /// weights (each from its variant's file, or the parent's own); each candidate is seen once.</summary>
        public void AssertEachIsItsWholeBlock(Func<ScoreCandidate, (BlockVariant Attention, BlockVariant Ffn)> halves)
        {
            using var x = ParentBlock.Activations(seed: 3);
            var (cos, sin) = ParentBlock.Rope(_config, x.shape[1]);
            var seen = new List<string>();
            using var _ = no_grad();
            Blocks.Forward(x, cos, sin, 0, (id, output) =>
            {
                seen.Add(id);
                var (attentionHalf, ffnHalf) = halves(Candidates.Single(c => c.Id == id));
                using var expected = new DecoderBlock(_config, new BlockConfig(attentionHalf.Attention!, ffnHalf.Ffn!));
                var from = Weights(attentionHalf).Where(p => p.Key.StartsWith("self_attn") || p.Key.StartsWith("input_layernorm"))
                    .Concat(Weights(ffnHalf).Where(p => p.Key.StartsWith("mlp") || p.Key.StartsWith("post_attention_layernorm")))
                    .ToDictionary();
                foreach (var (name, p) in expected.named_parameters()) p.copy_(from[name]);
                using var want = expected.Forward(x, cos, sin, null, 0);
                Assert.True(ParentBlock.Same(want, output), $"{id}: max difference {(want - output).abs().max().item<float>()}");
            });
            Assert.Equal(Candidates.Select(c => c.Id).Order(), seen.Order());
        }

        IEnumerable<KeyValuePair<string, Tensor>> Weights(BlockVariant half) =>
            (half.IsParent ? _parent : Trained.GetValueOrDefault(half.Id))?.named_parameters().Select(p => KeyValuePair.Create(p.name, (Tensor)p.parameter)) ?? [];

        public void Dispose()
        {
            Blocks.Dispose();
            foreach (var b in Trained.Values) b.Dispose();
            _parent.Dispose();
        }
    }
}
