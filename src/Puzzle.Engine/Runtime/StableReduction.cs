using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// Whole-tensor sums whose rounding does not depend on torch's thread count. ATen splits a reduction to one number
/// over 32768 elements or more between its threads, so 1 and 2 threads round differently (seen in the last bits of
/// a BLD loss's denominator and of a KL sum, hence in trained weights and scores); a reduction along one axis of a
/// 2-D tensor gives each row to one thread. So: sum rows of a fixed width, repeatedly, until fewer than 32768 numbers
/// remain, then sum those on one thread. The result is the same on 1 or 64 threads; differentiable like <c>sum()</c>.
/// </summary>
public static class StableReduction
{
    /// <summary>ATen's grain size: a reduction over fewer elements runs on one thread.</summary>
    const long SerialLimit = 32768;
    const long Row = 4096;

    /// <summary>The sum of every element, as a 0-dimensional tensor of the input's type.</summary>
    public static Tensor Sum(Tensor x)
    {
        using var scope = NewDisposeScope();
        var flat = x.reshape(-1);
        while (flat.numel() >= SerialLimit)
        {
            var whole = flat.numel() / Row * Row;
            var rows = flat.narrow(0, 0, whole).reshape(-1, Row).sum(1);
            flat = whole == flat.numel() ? rows : cat([rows, flat.narrow(0, whole, flat.numel() - whole).sum().unsqueeze(0)]);
        }
        return flat.sum().MoveToOuterDisposeScope();
    }

    /// <summary>The mean of every element.</summary>
    public static Tensor Mean(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var count = ((double)x.numel()).ToScalar(); // held across the call: see Scalars
        return Sum(x).div(count).MoveToOuterDisposeScope();
    }
}
