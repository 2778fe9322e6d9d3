namespace Puzzle.Engine.Checkpoints;

/// <summary>What a checkpoint says about one tensor before its data is read.</summary>
public sealed record TensorInfo(TensorDType DType, IReadOnlyList<long> Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public long ByteCount => ElementCount * DType.ByteSize();

    public static string FormatShape(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Throws <see cref="CheckpointException"/> (naming <paramref name="where"/>, a file or nothing, and the
    /// tensor) unless <paramref name="stored"/> is <paramref name="target"/>'s shape.</summary>
    public static void RequireShape(string? where, string name, IReadOnlyList<long> stored, TorchSharp.torch.Tensor target)
    {
        if (!stored.SequenceEqual(target.shape))
            throw new CheckpointException($"{(where is null ? "" : where + ": ")}tensor '{name}' is {FormatShape(stored)}, the model's is {FormatShape(target.shape)}");
    }

    public override string ToString() => $"{DType.SafeTensorsName()}{FormatShape(Shape)}";
}
