using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// The normalized MSE (<see cref="Nmse"/>) of each initialiser of one variant against the parent subblock, measured
/// before any training, e.g. linear attention {"paper": 0.61, "least_squares": 0.32}: a stage records it so the
/// default initialiser is chosen by measurement. Measure on held-out activations: least squares was fitted on its own.
/// </summary>
/// <param name="Subblock">"attention" or "ffn"</param>
/// <param name="Variant">the variant's name, e.g. "linear", "gqa2", "swiglu256"</param>
public sealed record InitReport(string Subblock, string Variant, IReadOnlyDictionary<string, double> Nmse)
{
    /// <summary>The initialiser with the lowest nMSE (null when the variant has none, as a no-op).</summary>
    public string? Best => Nmse.Count == 0 ? null : Nmse.MinBy(p => p.Value).Key;

    /// <param name="x">the parent's residual stream at the block's input [B, T, hidden], positions from 0</param>
    public static InitReport Attention(ModelConfig model, DecoderBlock parent, AttentionConfig variant,
        IReadOnlyDictionary<string, AttentionSubblock> candidates, Tensor x)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (cos, sin) = InitCandidates.Rope(model, x);
        var target = parent.AttentionOutput(x, cos, sin, null, 0);
        var input = parent.input_layernorm!.forward(x);
        var nmse = candidates.ToDictionary(c => c.Key, c => Library.Nmse.Value(c.Value.Forward(input, cos, sin, null, 0), target));
        return new InitReport("attention", variant.ToString(), nmse);
    }

    /// <param name="h">the parent's residual stream at the FFN's input [B, T, hidden]</param>
    public static InitReport Ffn(DecoderBlock parent, FfnConfig variant,
        IReadOnlyDictionary<string, nn.Module<Tensor, Tensor>> candidates, Tensor h)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var target = parent.FfnOutput(h);
        var input = parent.post_attention_layernorm!.forward(h);
        var nmse = candidates.ToDictionary(c => c.Key, c => Library.Nmse.Value(c.Value.forward(input), target));
        return new InitReport("ffn", variant.ToString(), nmse);
    }

    public override string ToString() =>
        $"{Subblock} {Variant}: " + string.Join(", ", Nmse.Select(p => $"{p.Key} {p.Value:G4}"));
}
