namespace Puzzle.Engine.Runtime;

/// <summary>A kind of torch device: where a pipeline computes (<c>device</c>) and where costs are measured (<c>scenario.device</c>).</summary>
public enum DeviceKind
{
    /// <summary>The CPU, in float32.</summary>
    Cpu,
    /// <summary>The first CUDA GPU, in bfloat16 (float32 where accuracy needs it).</summary>
    Cuda,
}
