using Puzzle.Engine.Heal;
using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Tests.Heal;

/// <summary>
/// The GKD loss on a child that differs from its parent, against the paper's formula written out in float64 loops:
/// Σ_layers mean(1 − cos(h_child, h_parent)) + KL(parent ‖ child) + the child's LM loss, each weighted.
/// A reversed KL, a missing layer or a missing term moves a number this test compares.
/// </summary>
public class GkdObjectiveTests
{
    static readonly ModelConfig Parent = ModelConfig.Llama(vocab: 40, hidden: 16, layers: 3, heads: 4, kvHeads: 2, intermediate: 32);

    [Fact]
    public void The_loss_of_a_different_child_is_the_formula_computed_independently()
    {
        using var parent = CausalLM.Initialise(Parent, seed: 1);
        var childConfig = Parent with { Blocks = [Parent.Blocks[0], new BlockConfig(new AttentionConfig(AttentionKind.Gqa, 1), Parent.Blocks[1].Ffn), Parent.Blocks[2]] };
        using var child = CausalLM.Initialise(childConfig, seed: 2);
        // small random weights give near-uniform next-token distributions: sharpen both so that KL(parent ‖ child)
        // and its reverse are far apart
        using (no_grad())
            foreach (var model in new[] { parent, child })
                model.named_parameters().Single(p => p.name == "model.norm.weight").parameter.mul_(20);
        parent.eval();
        child.eval();
        var tokens = randint(0, Parent.VocabSize, [2, 9], dtype: int64, generator: new Generator(7));
        const double wc = 0.7, wk = 1.3, wl = 0.4;

        var terms = new GkdObjective(parent, child, cosine: wc, kl: wk, lm: wl).Step(tokens);

        // the same models' hidden states and logits, then the formula in doubles
        var inputs = tokens[.., ..^1];
        var targets = tokens[.., 1..].data<long>().ToArray();
        var parentHidden = new List<Tensor>();
        var childHidden = new List<Tensor>();
        double[] parentLogits, childLogits;
        using (no_grad())
        {
            parentLogits = parent.Forward(inputs, null, parentHidden).to(float64).data<double>().ToArray();
            childLogits = child.Forward(inputs, null, childHidden).to(float64).data<double>().ToArray();
        }
        Assert.Equal(3, childHidden.Count);
        int positions = 2 * 8, d = Parent.HiddenSize, v = Parent.VocabSize;

        double cos = 0;
        for (var l = 0; l < 3; l++)
        {
            var a = childHidden[l].detach().to(float64).data<double>().ToArray();
            var b = parentHidden[l].detach().to(float64).data<double>().ToArray();
            double sum = 0;
            for (var p = 0; p < positions; p++)
            {
                double dot = 0, na = 0, nb = 0;
                for (var i = 0; i < d; i++) { dot += a[p * d + i] * b[p * d + i]; na += a[p * d + i] * a[p * d + i]; nb += b[p * d + i] * b[p * d + i]; }
                sum += 1 - dot / Math.Max(Math.Sqrt(na) * Math.Sqrt(nb), 1e-8);
            }
            cos += sum / positions;
        }

        double kl = 0, lm = 0, reversed = 0;
        for (var p = 0; p < positions; p++)
        {
            var logP = LogSoftmax(parentLogits, p * v, v);
            var logQ = LogSoftmax(childLogits, p * v, v);
            for (var i = 0; i < v; i++)
            {
                kl += Math.Exp(logP[i]) * (logP[i] - logQ[i]); // KL(parent ‖ child): the parent's expectation
                reversed += Math.Exp(logQ[i]) * (logQ[i] - logP[i]);
            }
            lm -= logQ[targets[p]];
        }
        kl /= positions;
        lm /= positions;
        reversed /= positions;

        Assert.True(cos > 0.05 && kl > 0.05 && Math.Abs(kl - reversed) > 0.01, $"the child must differ from the parent: cos term {cos}, KL {kl}, reversed {reversed}");
        Assert.Equal(cos, terms.Cosine.item<float>(), 4);
        Assert.Equal(kl, terms.Kl.item<float>(), 4);
        Assert.Equal(lm, terms.Lm.item<float>(), 4);
        Assert.Equal(wc * cos + wk * kl + wl * lm, terms.Total.item<float>(), 3);
    }

    /// <summary>
    /// The gradients <see cref="GkdObjective.Step(Tensor)"/> accumulates (the head a few positions at a time, the blocks
    /// through the graph or re-run one at a time) are those of the whole-batch formula differentiated by autograd:
    /// a slice that missed its part of the head's gradient, a block re-run on another block's input or a cosine term
    /// left out of a re-run block moves a gradient this test compares. A no-op attention, a narrower one, a whole block
    /// of no-ops (which passes its input on as it is), tied and untied heads; and with the embeddings and the head frozen
    /// (<c>gkd.train_embeddings: false</c>), which then take no gradient while every other one is the same.
    /// </summary>
    [Theory]
    [InlineData(false, false, 0.4, false)]
    [InlineData(true, false, 0.4, false)]
    [InlineData(false, true, 0.4, false)]
    [InlineData(true, true, 0.4, false)]
    [InlineData(false, true, 0.0, false)] // without the LM term, as Heal's default loss
    [InlineData(false, false, 0.4, true)]
    [InlineData(true, false, 0.4, true)]
    [InlineData(true, true, 0.4, true)]
    public void Its_gradients_are_the_whole_batch_formulas_gradients(bool checkpointBlocks, bool tie, double wl, bool frozen)
    {
        var parentConfig = ModelConfig.Llama(vocab: 40, hidden: 16, layers: 4, heads: 4, kvHeads: 2, intermediate: 32, tie: tie);
        using var parent = CausalLM.Initialise(parentConfig, seed: 1);
        var childConfig = parentConfig with
        {
            Blocks = [new BlockConfig(AttentionConfig.NoOp, parentConfig.Blocks[0].Ffn), new BlockConfig(AttentionConfig.Gqa(1), parentConfig.Blocks[1].Ffn),
                new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp), parentConfig.Blocks[3]],
        };
        using var child = CausalLM.Initialise(childConfig, seed: 2);
        using (no_grad())
            foreach (var model in new[] { parent, child })
                model.named_parameters().Single(p => p.name == "model.norm.weight").parameter.mul_(20);
        if (frozen) foreach (var weight in child.EmbeddingWeights) weight.requires_grad_(false);
        var frozenNames = frozen ? (tie ? ["model.embed_tokens.weight"] : new[] { "model.embed_tokens.weight", "lm_head.weight" }) : [];
        Assert.Equal(frozenNames, child.named_parameters().Where(p => !p.parameter.requires_grad).Select(p => p.name));
        var tokens = randint(0, Parent.VocabSize, [3, 9], dtype: int64, generator: new Generator(7));
        const double wc = 0.7, wk = 1.3;

        // 24 positions, slices of 5 (5 × 40 float32 logits): five slices, the last one short
        var terms = new GkdObjective(parent, child, wc, wk, wl, new GkdMemory(LogitSliceBytes: 5 * 40 * 4, CheckpointBlocks: checkpointBlocks)).Step(tokens);
        Assert.All(frozenNames, name => Assert.Null(child.named_parameters().Single(p => p.name == name).parameter.grad));
        var stepped = child.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        child.zero_grad();

        var inputs = tokens[.., ..^1];
        var parentHidden = new List<Tensor>();
        Tensor parentLogits;
        using (no_grad()) parentLogits = parent.Forward(inputs, null, parentHidden);
        var childHidden = new List<Tensor>();
        var logits = child.Forward(inputs, null, childHidden);
        var cos = zeros(1).squeeze();
        for (var l = 0; l < 4; l++) cos = cos + (1 - F.cosine_similarity(childHidden[l], parentHidden[l], dim: -1)).mean();
        var logQ = F.log_softmax(logits.reshape(-1, Parent.VocabSize), 1);
        var logP = F.log_softmax(parentLogits.reshape(-1, Parent.VocabSize), 1);
        var kl = (logP.exp() * (logP - logQ)).sum(1).mean();
        var lm = F.nll_loss(logQ, tokens[.., 1..].reshape(-1));
        var total = wc * cos + wk * kl + wl * lm;
        total.backward();

        Assert.Equal(total.item<float>(), terms.Total.item<float>(), 5);
        Assert.False(terms.Total.requires_grad);
        foreach (var (name, p) in child.named_parameters().Where(p => p.parameter.requires_grad))
        {
            var expected = p.grad!;
            var scale = expected.abs().max().item<float>();
            Assert.True(scale > 1e-6f, $"{name}: the reference gradient is zero, so it proves nothing");
            var error = (stepped[name] - expected).abs().max().item<float>();
            Assert.True(error <= 1e-5f * Math.Max(1, scale), $"{name}: gradient differs by {error} (largest {scale})");
        }
    }

    /// <summary>
    /// In bfloat16 (the compute dtype on a GPU) the step's gradients stay close to float32's on the same rounded
    /// weights: the head's weights sum their slices' gradients in float32 and round once, as one whole-batch backward
    /// pass would. Tied, so the embeddings take gradients from the head's slices and from the blocks.
    /// </summary>
    [Fact]
    public void In_bfloat16_its_gradients_are_float32s_within_bfloat16s_rounding()
    {
        var config = Parent with { TieWordEmbeddings = true };
        using var parent = CausalLM.Initialise(config, seed: 1);
        using var child = CausalLM.Initialise(config with { Blocks = [Parent.Blocks[0], new BlockConfig(AttentionConfig.Gqa(1), Parent.Blocks[1].Ffn), Parent.Blocks[2]] }, seed: 2);
        parent.to(bfloat16);
        child.to(bfloat16);
        var tokens = randint(0, Parent.VocabSize, [3, 9], dtype: int64, generator: new Generator(7));
        var memory = new GkdMemory(LogitSliceBytes: 5 * 40 * 4);
        new GkdObjective(parent, child, 0.7, 1.3, 0.4, memory).Step(tokens);
        Assert.All(child.named_parameters(), p => Assert.Equal(bfloat16, p.parameter.grad!.dtype));
        var low = child.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.to(float32));
        child.zero_grad();

        parent.to(float32);
        child.to(float32); // the same bfloat16-rounded weights, now computed in float32
        new GkdObjective(parent, child, 0.7, 1.3, 0.4, memory).Step(tokens);
        foreach (var (name, p) in child.named_parameters())
        {
            var scale = p.grad!.abs().max().item<float>();
            var error = (low[name] - p.grad!).abs().max().item<float>();
            Assert.True(scale > 1e-6f && error <= 0.05f * scale, $"{name}: bfloat16 gradient off by {error} (largest {scale})");
        }
    }

    /// <summary>
    /// Steps over two batches without clearing the gradients between them (micro-batches of one optimizer step) leave
    /// the sum of each batch's gradients: the head's weights add their slices to the gradient they already hold, in
    /// float32 and in bfloat16, tied (the embeddings also take the blocks' part) and untied.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Two_steps_sum_their_gradients(bool bf16, bool tie)
    {
        var config = Parent with { TieWordEmbeddings = tie };
        using var parent = CausalLM.Initialise(config, seed: 1);
        using var child = CausalLM.Initialise(config with { Blocks = [Parent.Blocks[0], new BlockConfig(AttentionConfig.Gqa(1), Parent.Blocks[1].Ffn), Parent.Blocks[2]] }, seed: 2);
        if (bf16)
        {
            parent.to(bfloat16);
            child.to(bfloat16);
        }
        var a = randint(0, Parent.VocabSize, [3, 9], dtype: int64, generator: new Generator(7));
        var b = randint(0, Parent.VocabSize, [2, 9], dtype: int64, generator: new Generator(8));
        var objective = new GkdObjective(parent, child, 0.7, 1.3, 0.4, new GkdMemory(LogitSliceBytes: 5 * 40 * 4));
        Dictionary<string, Tensor> Gradients() => child.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.to(float32));

        objective.Step(a);
        var first = Gradients();
        child.zero_grad();
        objective.Step(b);
        var second = Gradients();
        child.zero_grad();
        objective.Step(a);
        objective.Step(b);
        foreach (var (name, together) in Gradients())
        {
            var expected = first[name] + second[name];
            var scale = expected.abs().max().item<float>();
            var error = (together - expected).abs().max().item<float>();
            Assert.True(scale > 1e-6f && error <= (bf16 ? 0.02f : 1e-5f) * Math.Max(1, scale), $"{name}: the two steps' gradient is off their sum by {error} (largest {scale})");
        }
    }

    static double[] LogSoftmax(double[] x, int offset, int n)
    {
        var max = double.NegativeInfinity;
        for (var i = 0; i < n; i++) max = Math.Max(max, x[offset + i]);
        double sum = 0;
        for (var i = 0; i < n; i++) sum += Math.Exp(x[offset + i] - max);
        var log = Math.Log(sum) + max;
        return Enumerable.Range(0, n).Select(i => x[offset + i] - log).ToArray();
    }
}
