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
}
