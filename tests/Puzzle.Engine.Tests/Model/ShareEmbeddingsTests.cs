using Puzzle.Engine.Heal;
using Puzzle.Engine.Model;
using Puzzle.Engine.Search;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Model;

/// <summary>A child assembled with <c>shareEmbeddings</c> (Heal's <c>gkd.train_embeddings: false</c>) uses the parent's
/// embedding and head tensors themselves: no copy of its own, no gradient, and its disposal leaves them to the parent.</summary>
public class ShareEmbeddingsTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_child_sharing_its_parents_embeddings_reads_the_parents_storage_takes_no_gradient_and_frees_only_its_aliases(bool tie)
    {
        Fixtures.Torch();
        var config = ModelConfig.Llama(vocab: 40, hidden: 16, layers: 2, heads: 4, kvHeads: 2, intermediate: 32, tie: tie);
        using var parent = CausalLM.Initialise(config, seed: 1);
        var childConfig = config with { Blocks = [config.Blocks[0], new BlockConfig(AttentionConfig.NoOp, config.Blocks[1].Ffn)] };
        LayerChoice[] layers = [new(0, "attention_parent", "ffn_parent"), new(1, "attention_noop", "ffn_parent")];
        using (var child = ChildAssembler.Assemble(parent, childConfig, layers, _ => null, shareEmbeddings: true))
        {
            Assert.Equal(parent.EmbeddingWeights.Count, child.EmbeddingWeights.Count);
            Assert.All(child.EmbeddingWeights, w => Assert.False(w.requires_grad));
            // still registered under their names: saved and counted as before
            var embeddingNames = tie ? new[] { "model.embed_tokens.weight" } : ["model.embed_tokens.weight", "lm_head.weight"];
            Assert.Equal(embeddingNames, child.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name));
            Assert.Equal(embeddingNames, child.state_dict().Keys.Where(embeddingNames.Contains));
            // one storage: a change to the parent's shows in the child's
            using (no_grad())
                foreach (var w in parent.EmbeddingWeights) w.add_(1);
            foreach (var (p, c) in parent.EmbeddingWeights.Zip(child.EmbeddingWeights)) Assert.True(p.equal(c).all().item<bool>());
            var saved = child.state_dict(); // what Heal publishes
            foreach (var (p, name) in parent.EmbeddingWeights.Zip(embeddingNames)) Assert.True(p.equal(saved[name]).all().item<bool>(), name);
            using var ids = tensor(new long[] { 3, 7, 39 }).unsqueeze(0);
            using var _ = no_grad();
            Assert.True(parent.Embed(ids).equal(child.Embed(ids)).all().item<bool>());
            using var last = child.Hidden(ids);
            Assert.True(parent.Head(last).equal(child.Head(last)).all().item<bool>());
        }
        // the child is gone; the parent's tensors are not
        using (no_grad())
        using (var logits = parent.Forward(tensor(new long[] { 1, 2 }).unsqueeze(0)))
            Assert.True(logits.isfinite().all().item<bool>());

        // without it, copies of their own that train
        using var copy = ChildAssembler.Assemble(parent, childConfig, layers, _ => null);
        Assert.All(copy.EmbeddingWeights, w => Assert.True(w.requires_grad));
        using (no_grad())
            foreach (var w in parent.EmbeddingWeights) w.add_(1);
        foreach (var (p, c) in parent.EmbeddingWeights.Zip(copy.EmbeddingWeights)) Assert.False(p.equal(c).all().item<bool>());
    }

    [Fact]
    public void Embeddings_of_another_shape_are_refused()
    {
        Fixtures.Torch();
        using var parent = CausalLM.Initialise(ModelConfig.Llama(vocab: 40, hidden: 16, layers: 1, heads: 4, kvHeads: 2, intermediate: 32, tie: true), seed: 1);
        var error = Assert.Throws<ArgumentException>(() => new CausalLM(ModelConfig.Llama(vocab: 40, hidden: 16, layers: 1, heads: 4, kvHeads: 2, intermediate: 32, tie: false), embeddingsOf: parent));
        Assert.Contains("40 x 16 (tied) cannot serve a model of 40 x 16 (untied)", error.Message);
    }
}
