using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// Normalized MSE, the paper's BLD loss and its measure of how well a child subblock reproduces the parent's:
/// mean((child − parent)²) / mean(parent²). 0 is exact, 1 is what a no-op (all zeros) scores; scale-invariant.
/// </summary>
public static class Nmse
{
    /// <summary>The normalized MSE as a differentiable scalar tensor.</summary>
    public static Tensor Of(Tensor child, Tensor parent)
    {
        if (!child.shape.SequenceEqual(parent.shape))
            throw new ArgumentException(
                $"child shape [{string.Join(", ", child.shape)}] differs from parent shape [{string.Join(", ", parent.shape)}]");
        using var scope = NewDisposeScope();
        // in float32 whatever the compute dtype (a bfloat16 mean keeps three significant digits of the loss), and stable
        // means: the denominator scales every gradient, so its rounding must not follow the thread count
        var (c, p) = (child.to(float32), parent.to(float32));
        var error = StableReduction.Mean(Scalars.Square(c - p));
        return (error / StableReduction.Mean(Scalars.Square(p))).MoveToOuterDisposeScope();
    }

    /// <summary>The normalized MSE as a number (no graph kept).</summary>
    public static double Value(Tensor child, Tensor parent)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return Of(child, parent).to(float32).item<float>();
    }
}
