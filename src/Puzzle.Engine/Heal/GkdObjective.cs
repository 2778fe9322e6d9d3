using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Heal;

/// <summary>The parts of the GKD loss of one batch, each a mean per token (cosine summed over layers).</summary>
public sealed record GkdTerms(Tensor Total, Tensor Cosine, Tensor Kl, Tensor Lm);

/// <summary>
/// Global knowledge distillation's loss (paper §3.5): Σ_layers (1 − cos(h_child, h_parent)) + KL(parent ‖ child),
/// optionally plus the LM loss on the text, each with its weight. The parent runs without gradients.
/// </summary>
public sealed class GkdObjective(CausalLM parent, CausalLM child, double cosine, double kl, double lm)
{
    /// <param name="tokens">[B, T+1]: inputs and shifted targets</param>
    public GkdTerms Of(Tensor tokens)
    {
        var inputs = tokens[.., ..^1];
        var targets = tokens[.., 1..];
        var parentHidden = new List<Tensor>();
        Tensor parentLogits;
        using (no_grad()) parentLogits = parent.Forward(inputs, null, parentHidden);
        var childHidden = new List<Tensor>();
        var logits = child.Forward(inputs, null, childHidden);
        var vocab = logits.shape[^1];

        // tensor-only arithmetic, additions with a held alpha (+ makes a temporary Scalar of 1): TorchSharp's temporary
        // Scalars can be freed mid-call (see Runtime/Scalars)
        var cos = zeros(1, dtype: float32, device: logits.device).squeeze();
        for (var l = 0; l < childHidden.Count; l++)
        {
            var similarity = F.cosine_similarity(childHidden[l].to(float32), parentHidden[l].to(float32), dim: -1);
            cos = cos.add(StableReduction.Mean(ones_like(similarity) - similarity), Scalars.One);
        }
        var logQ = F.log_softmax(logits.reshape(-1, vocab).to(float32), 1);
        var logP = F.log_softmax(parentLogits.reshape(-1, vocab).to(float32), 1);
        var klTerm = StableReduction.Mean((logP.exp() * (logP - logQ)).sum(1)); // means that do not follow the thread count
        var lmTerm = F.nll_loss(logQ, targets.reshape(-1));
        var total = (cos * Weight(cosine, cos)).add(klTerm * Weight(kl, cos), Scalars.One).add(lmTerm * Weight(lm, cos), Scalars.One);
        return new GkdTerms(total, cos, klTerm, lmTerm);
    }

    static Tensor Weight(double w, Tensor like) => tensor((float)w, dtype: float32, device: like.device);
}
