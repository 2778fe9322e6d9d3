using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// What a variant sees and must produce: an attention variant reads the layer's input x and produces the parent
/// attention's contribution a; an FFN variant reads h = x + a and produces the parent FFN's contribution f; a coupled
/// block reads x and produces a + f.
/// </summary>
internal sealed class SubblockIO(BlockVariant variant, Tensor cos, Tensor sin, ComputeDevice device)
{
    /// <summary>[2, B, T, hidden] on the device: the variant's input and its target.</summary>
    public Tensor Batch(ActivationSet set, IReadOnlyList<long> sequences)
    {
        using var scope = NewDisposeScope();
        var l = variant.Layer;
        Tensor input, target;
        var x = set.Read(ActivationSet.InputOf(l), sequences);
        var attention = set.Read(ActivationSet.AttentionOf(l), sequences);
        (input, target) = variant.Subblock switch
        {
            Subblock.Attention => (x, attention),
            Subblock.Ffn => (x + attention, set.Read(ActivationSet.FfnOf(l), sequences)),
            _ => (x, attention + set.Read(ActivationSet.FfnOf(l), sequences)),
        };
        return device.Put(stack([input, target])).MoveToOuterDisposeScope();
    }

    public Tensor Output(DecoderBlock block, Tensor input) => variant.Subblock switch
    {
        Subblock.Attention => block.AttentionOutput(input, cos, sin, null, 0),
        Subblock.Ffn => block.FfnOutput(input),
        _ => block.Forward(input, cos, sin, null, 0) - input,
    };

    public double Nmse(DecoderBlock block, Tensor batch)
    {
        using var scope = NewDisposeScope();
        return Library.Nmse.Of(Output(block, batch[0]), batch[1]).item<float>();
    }
}
