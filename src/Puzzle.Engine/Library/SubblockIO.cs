using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// What a variant sees and must produce: an attention variant reads the layer's input x and produces the parent
/// attention's contribution a; an FFN variant reads h = x + a and produces the parent FFN's contribution f; a coupled
/// block reads x and produces a + f.
/// </summary>
internal sealed class SubblockIO(BlockVariant variant, Tensor cos, Tensor sin)
{
    /// <summary>The variant's input and its target in the parent's stream at its layer.</summary>
    public (Tensor Input, Tensor Target) Of(LayerStream s) => variant.Subblock switch
    {
        Subblock.Attention => (s.X, s.Attention),
        Subblock.Ffn => (Runtime.Scalars.Add(s.X, s.Attention), s.Ffn), // not +: see Runtime.Scalars
        _ => (s.X, Runtime.Scalars.Add(s.Attention, s.Ffn)),
    };

    public Tensor Output(DecoderBlock block, Tensor input) => variant.Subblock switch
    {
        Subblock.Attention => block.AttentionOutput(input, cos, sin, null, 0),
        Subblock.Ffn => block.FfnOutput(input),
        _ => block.Forward(input, cos, sin, null, 0) - input,
    };

    /// <summary>The differentiable normalized MSE of the block's output against the parent's on one batch.</summary>
    public Tensor Loss(DecoderBlock block, LayerStream s)
    {
        var (input, target) = Of(s);
        return Library.Nmse.Of(Output(block, input), target);
    }

    /// <summary>Normalized MSE over held-out batches, pooled as the ratio of summed squares (as over one batch).</summary>
    public double Nmse(DecoderBlock block, IReadOnlyList<LayerStream> batches)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        double error = 0, norm = 0;
        foreach (var s in batches)
        {
            var (input, target) = Of(s);
            var t = target.to(float32);
            error += Runtime.StableReduction.Sum(Runtime.Scalars.Square(Output(block, input).to(float32) - t)).to(float64).item<double>();
            norm += Runtime.StableReduction.Sum(Runtime.Scalars.Square(t)).to(float64).item<double>();
        }
        return error / norm;
    }
}
