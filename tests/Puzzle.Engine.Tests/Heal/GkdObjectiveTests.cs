using Puzzle.Engine.Heal;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

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

        var terms = new GkdObjective(parent, child, cosine: wc, kl: wk, lm: wl).Of(tokens);

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
