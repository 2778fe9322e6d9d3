namespace Puzzle.Engine.Checkpoints;

/// <summary>What a checkpoint says about one tensor before its data is read.</summary>
public sealed record TensorInfo(TensorDType DType, IReadOnlyList<long> Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public long ByteCount => ElementCount * DType.ByteSize();

    public static string FormatShape(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";

    public override string ToString() => $"{DType.SafeTensorsName()}{FormatShape(Shape)}";
}
