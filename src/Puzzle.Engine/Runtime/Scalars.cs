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

    /// <summary>The exponent of <see cref="Square"/>, an integer as TorchSharp's own <c>square()</c> passes it.</summary>
    public static readonly Scalar Two = 2.ToScalar();

    /// <summary>x², elementwise. TorchSharp's <c>square()</c> is <c>pow(2)</c> with a temporary Scalar: it aborted a GKD
    /// step (exit 134, in gradient clipping) in one CI run, and RMSNorm calls it in every layer of every forward pass.</summary>
    public static TorchSharp.torch.Tensor Square(TorchSharp.torch.Tensor x) => x.pow(Two);

    /// <summary>a + b, elementwise, with the held alpha: TorchSharp's <c>a + b</c> passes a temporary alpha of 1.</summary>
    public static TorchSharp.torch.Tensor Add(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => a.add(b, One);
}
