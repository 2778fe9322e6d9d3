using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Model;

/// <summary>SwiGLU FFN: down(silu(gate(x)) * up(x)) (Llama's LlamaMLP).</summary>
public sealed class SwiGluFfn : nn.Module<Tensor, Tensor>
{
    public readonly Linear gate_proj, up_proj, down_proj;

    public SwiGluFfn(int hidden, int intermediate, Device? device = null, ScalarType? dtype = null) : base(nameof(SwiGluFfn))
    {
        gate_proj = nn.Linear(hidden, intermediate, hasBias: false, device: device, dtype: dtype);
        up_proj = nn.Linear(hidden, intermediate, hasBias: false, device: device, dtype: dtype);
        down_proj = nn.Linear(intermediate, hidden, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => down_proj.forward(Channels(x));

    /// <summary>The intermediate channels down_proj reads: silu(gate(x)) * up(x).</summary>
    public Tensor Channels(Tensor x) => F.silu(gate_proj.forward(x)) * up_proj.forward(x);
}

/// <summary>FFN replaced by one hidden×hidden linear layer (DeciLM's linear_mlp).</summary>
public sealed class LinearFfn : nn.Module<Tensor, Tensor>
{
    public readonly Linear linear_mlp;

    public LinearFfn(int hidden, Device? device = null, ScalarType? dtype = null) : base(nameof(LinearFfn))
    {
        linear_mlp = nn.Linear(hidden, hidden, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => linear_mlp.forward(x);
}
