using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>What the parent computes at one layer for a batch: its input x, its attention's contribution a and its
/// FFN's contribution f to the residual stream (the layer's output is x + a + f). Contributions are kept as such:
/// next to x they are small, and a difference of two streams would lose them to rounding.</summary>
public sealed record LayerStream(Tensor X, Tensor Attention, Tensor Ffn);

/// <summary>
/// The parent's residual stream, computed as it is needed instead of stored: the embeddings and the layers below the
/// deepest one a job trains or scores, loaded one tensor at a time in the compute dtype on the device. Blockwise
/// distillation and replace-1-block scoring read the parent's activations from here; the store never holds them.
/// </summary>
public sealed class ParentStream : IDisposable
{
    readonly Tensor _embedding;
    readonly RotaryEmbedding _rotary;
    readonly ComputeDevice _device;

    ParentStream(ModelConfig config, Tensor embedding, IReadOnlyList<DecoderBlock> layers, ComputeDevice device)
    {
        Config = config;
        _embedding = embedding;
        Layers = layers;
        _device = device;
        _rotary = new RotaryEmbedding(config);
    }

    public ModelConfig Config { get; }
    /// <summary>The parent's blocks 0..<c>Layers.Count</c>−1, in evaluation mode, on the device.</summary>
    public IReadOnlyList<DecoderBlock> Layers { get; }

    /// <summary>The embeddings and layers [0, <paramref name="layers"/>) of the checkpoint in <paramref name="modelDir"/>.</summary>
    public static ParentStream Open(string modelDir, ModelConfig config, int layers, ComputeDevice device)
    {
        if (layers < 1 || layers > config.NumLayers)
            throw new ArgumentOutOfRangeException(nameof(layers), $"the parent has {config.NumLayers} layers, not {layers}");
        Tensor embedding;
        using (var tensors = CheckpointTensors.Open(modelDir))
        using (var host = tensors.ReadStored("model.embed_tokens.weight"))
        using (var placed = device.Put(host)) // held while detach() runs (may be host itself: disposing twice is harmless)
            embedding = placed.detach();
        var blocks = Enumerable.Range(0, layers).Select(l => LoadLayer(modelDir, config, l, device)).ToList();
        return new ParentStream(config, embedding, blocks, device);
    }

    /// <summary>One parent layer, read lazily from the checkpoint: a job's memory does not grow with the parent's depth.</summary>
    static DecoderBlock LoadLayer(string modelDir, ModelConfig config, int layer, ComputeDevice device)
    {
        using var tensors = CheckpointTensors.Open(modelDir);
        var block = new DecoderBlock(config, config.Blocks[layer], device.Device, device.DType);
        using var _ = TorchSharp.torch.no_grad();
        foreach (var (name, p) in block.named_parameters())
        {
            tensors.ReadInto($"model.layers.{layer}.{name}", p);
        }
        block.eval();
        return block;
    }

    /// <summary>Rotary cos and sin for positions 0..length−1 in the compute dtype.</summary>
    public (Tensor Cos, Tensor Sin) Rotary(long length) => _rotary.At(0, length, _device.Device, _device.DType);

    /// <summary>
    /// Runs the parent over token sequences [B, T+1] (the inputs are <c>[:, :-1]</c>) up to layer <paramref name="upTo"/>
    /// (exclusive) without gradients, and returns each layer's <see cref="LayerStream"/>. The tensors belong to the
    /// caller's dispose scope. The FFN of each layer in <paramref name="channels"/> runs through its
    /// <see cref="ChannelContribution.Sum"/>, which adds the batch's channels on the way (the same operations as the
    /// FFN's own pass).
    /// </summary>
    public IReadOnlyList<LayerStream> Run(Tensor tokens, int upTo, IReadOnlyDictionary<int, ChannelContribution.Sum>? channels = null)
    {
        using var _ = no_grad();
        var ids = tokens.device_type == _device.Device.type ? tokens : tokens.to(_device.Device);
        var inputs = ids[.., ..^1];
        var x = _embedding.index_select(0, inputs.reshape(-1)).reshape(inputs.shape[0], inputs.shape[1], -1);
        var (cos, sin) = Rotary(x.shape[1]);
        var streams = new List<LayerStream>(upTo);
        for (var i = 0; i < upTo; i++)
        {
            // each layer's temporaries go when it is done; only the stream (and the next layer's input) is kept
            using var scope = NewDisposeScope();
            var block = Layers[i];
            var a = block.AttentionOutput(x, cos, sin, null, i);
            var h = Runtime.Scalars.Add(x, a); // not +: see Runtime.Scalars
            var f = channels?.GetValueOrDefault(i) is { } sum ? sum.Forward(h) : block.FfnOutput(h);
            var next = Runtime.Scalars.Add(h, f);
            streams.Add(new LayerStream(x, a.MoveToOuterDisposeScope(), f.MoveToOuterDisposeScope()));
            x = next.MoveToOuterDisposeScope();
        }
        return streams;
    }

    public void Dispose()
    {
        foreach (var b in Layers) b.Dispose();
        _embedding.Dispose();
    }
}
