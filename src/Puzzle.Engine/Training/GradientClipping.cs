using Puzzle.Engine.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>
/// PyTorch's <c>clip_grad_norm_</c> (total L2 norm of all gradients; scale them by max / (norm + 1e-6) when the norm
/// exceeds max), with the norm summed by <see cref="StableReduction"/> so the scale, and hence the weights, do not
/// depend on the thread count.
/// </summary>
public static class GradientClipping
{
    /// <returns>the total norm before clipping</returns>
    public static double ClipByGlobalNorm(IReadOnlyList<Parameter> parameters, double maxNorm)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        var squares = stack(grads.Select(g => StableReduction.Sum(g.to(float32).square())).ToArray());
        var total = Math.Sqrt(squares.to(CPU).data<float>().ToArray().Aggregate(0.0, (sum, s) => sum + s));
        if (total > maxNorm)
        {
            using var scale = (maxNorm / (total + 1e-6)).ToScalar(); // held across the calls: see Scalars
            foreach (var g in grads) g.mul_(scale);
        }
        return total;
    }
}
