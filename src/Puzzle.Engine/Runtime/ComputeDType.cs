namespace Puzzle.Engine.Runtime;

/// <summary>The dtype a pipeline computes in (<c>dtype</c>); without it, the device's own (<see cref="ComputeDevice.DefaultDType"/>).</summary>
public enum ComputeDType
{
    /// <summary>float32 throughout: the CPU's default; on CUDA, exact but about half the speed and twice the memory.</summary>
    Float32,
    /// <summary>bfloat16 weights and activations, float32 where accuracy needs it: CUDA's default; on a CPU the same
    /// code path as on CUDA (fast only with AMX).</summary>
    Bfloat16,
}
