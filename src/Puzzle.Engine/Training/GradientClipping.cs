using Puzzle.Engine.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>
/// PyTorch's <c>clip_grad_norm_</c> (total L2 norm of all gradients; scale them by max / (norm + 1e-6) when the norm
/// exceeds max), with the norm summed by <see cref="StableReduction"/> so the scale, and hence the weights, do not
/// depend on the thread count. As in PyTorch, the scale is computed and applied on the device: a training step never
/// waits for the host.
/// </summary>
public static class GradientClipping
{
    /// <returns>the total norm before clipping, as a 0-dimensional float32 tensor on the gradients' device</returns>
    public static Tensor ClipByGlobalNormOnDevice(IReadOnlyList<Parameter> parameters, double maxNorm)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return zeros(1).squeeze().MoveToOuterDisposeScope();
        var total = StableReduction.Sum(stack(grads.Select(g => StableReduction.Sum(Scalars.Square(g.to(float32)))).ToArray())).sqrt();
        // Scalars held across the calls, alpha included (add(Scalar) alone makes a temporary alpha of 1): see Scalars
        using var eps = 1e-6.ToScalar();
        using var max = maxNorm.ToScalar();
        var scale = total.add(eps, Scalars.One).reciprocal().mul(max).clamp_max(Scalars.One);
        foreach (var g in grads) g.mul_(scale.to(g.dtype));
        return total.MoveToOuterDisposeScope();
    }

    /// <returns>the total norm before clipping</returns>
    public static double ClipByGlobalNorm(IReadOnlyList<Parameter> parameters, double maxNorm)
    {
        using var total = ClipByGlobalNormOnDevice(parameters, maxNorm);
        return total.item<float>();
    }
}
