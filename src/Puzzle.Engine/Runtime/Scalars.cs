using TorchSharp;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// Scalars that live as long as the process. TorchSharp 0.107 passes a temporary Scalar's handle to native code
/// without keeping the Scalar alive (e.g. <c>tensor + 1e-5</c> creates the value and an alpha of 1, and <c>a + b</c>
/// of two tensors an alpha of 1): under GC pressure its finalizer can free it mid-call, and libtorch then reads
/// garbage ("Expected false to be true" from Scalar::toFloat, seen here in about 1 of 6 calibration runs, and in
/// TorchSharp's AdamW). Hot paths hold theirs in fields or <c>using</c> variables, use these, or tensor-only
/// operations (<see cref="Training.AdamW"/> is our own step for that reason).
/// </summary>
public static class Scalars
{
    public static readonly Scalar One = 1.0.ToScalar();
}
