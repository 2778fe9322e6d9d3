using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>Named tensors that can be listed and described without reading them, and read one at a time.</summary>
public interface ITensorSource
{
    IReadOnlyCollection<string> Names { get; }

    bool Contains(string name);

    TensorInfo Info(string name);

    /// <summary>The tensor as a new float32 CPU tensor; the caller disposes it.</summary>
    torch.Tensor Read(string name);

    /// <summary>The tensor as a new CPU tensor in the dtype it is stored in (float32 where the source has no other);
    /// for copying into a model, whose parameters convert it.</summary>
    torch.Tensor ReadStored(string name) => Read(name);

    /// <summary>Copies the tensor into <paramref name="target"/> (same shape; any device and dtype).</summary>
    void ReadInto(string name, torch.Tensor target)
    {
        using var source = ReadStored(name);
        TensorInfo.RequireShape(null, name, source.shape, target);
        using var _ = torch.no_grad();
        target.copy_(source);
    }
}
