using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Model;

/// <summary>Llama's RMSNorm: normalised in float32, scaled by a learned weight, cast back.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Scalar _eps; // held for the module's life: see Runtime.Scalars
    public readonly TorchSharp.Modules.Parameter weight;

    public RmsNorm(int size, double eps, Device? device = null, ScalarType? dtype = null) : base(nameof(RmsNorm))
    {
        _eps = eps.ToScalar();
        weight = nn.Parameter(ones(size, dtype: dtype, device: device));
        register_parameter(nameof(weight), weight);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x.to(float32);
        h = h * rsqrt(Runtime.Scalars.Square(h).mean([-1L], keepdim: true).add(_eps, Runtime.Scalars.One));
        return (weight * h.to(x.dtype)).MoveToOuterDisposeScope();
    }
}
