using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// Where a job computes and in which precision. Every stage gets one through its JobContext; nothing else decides.
/// <list type="bullet">
/// <item>CPU: float32 throughout (bf16 matmuls are ~170x slower on CPUs without AMX), exactly as before devices existed;
/// bfloat16 when the spec asks (<c>dtype</c>), which runs CUDA's code path on the CPU.</item>
/// <item>CUDA: bfloat16 weights and activations; float32 where accuracy needs it: RMSNorm statistics and rotary angles
/// (the model), losses (cross-entropy and normalized MSE on float32 values), log-softmax and KL (float64, the metrics),
/// optimizer master weights and moments (<see cref="Training.Trainer"/>), least-squares normal equations (float64).</item>
/// </list>
/// </summary>
public sealed record ComputeDevice
{
    ComputeDevice(DeviceKind kind, ScalarType dtype) => (Kind, DType) = (kind, dtype);

    public DeviceKind Kind { get; }
    /// <summary>The dtype weights and activations are computed in.</summary>
    public ScalarType DType { get; }
    public Device Device => Kind == DeviceKind.Cuda ? CUDA : CPU;
    public bool IsCuda => Kind == DeviceKind.Cuda;

    // dtypes here are ScalarType's constants, not torch.float32 and torch.bfloat16: reading one of those runs torch's type
    // initializer, which loads libtorch, and planning a pipeline reads dtypes (the run, Fetch, Data, Report, Pack and
    // Publish each loaded libtorch for that: 0.5 s and 110 MB of a process that computes nothing with it)

    /// <summary>The CPU in float32 (needs no check: torch always has it).</summary>
    public static ComputeDevice Cpu { get; } = new(DeviceKind.Cpu, ScalarType.Float32);

    /// <summary>The compute dtype of a device kind: float32 on CPU, bfloat16 on CUDA.</summary>
    public static ScalarType DefaultDType(DeviceKind kind) => kind == DeviceKind.Cuda ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>A device of <paramref name="kind"/>, checked to be usable in this process.</summary>
    /// <param name="askedBy">what asked for it, for the error: e.g. <c>pipelines/ci.yaml: device</c> or <c>--device</c></param>
    /// <param name="dtype">the compute dtype (default: <see cref="DefaultDType"/>); float32 or bfloat16</param>
    /// <exception cref="InvalidOperationException">CUDA was asked for and torch sees no CUDA device.</exception>
    public static ComputeDevice Open(DeviceKind kind, string askedBy, ScalarType? dtype = null)
    {
        var type = dtype ?? DefaultDType(kind);
        if (type is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new ArgumentException($"{askedBy}: compute dtype must be float32 or bfloat16, got {type}");
        if (kind == DeviceKind.Cpu && type == ScalarType.Float32) return Cpu;
        TorchRuntime.EnsureLoaded();
        if (kind == DeviceKind.Cuda && !cuda.is_available())
            throw new InvalidOperationException(
                $"{askedBy} is cuda, but this process sees no CUDA device (torch.cuda.is_available() is false). " +
                "Run on a machine with an NVIDIA GPU and driver, with a CUDA libtorch: build with -p:PuzzleTorch=cuda, or with " +
                "-p:PuzzleTorch=external and a CUDA PyTorch's torch/lib and nvidia/*/lib on LD_LIBRARY_PATH (README, \"GPU\"). " +
                (askedBy.StartsWith("--device", StringComparison.Ordinal) ? "Or leave out --device cuda." : "Or set device: cpu."));
        return new ComputeDevice(kind, type);
    }

    /// <summary>The torch dtype a spec's <c>dtype</c> asks for; null (the device's default) when it asks for none.</summary>
    public static ScalarType? ScalarTypeOf(ComputeDType? dtype) => dtype switch
    {
        null => null,
        ComputeDType.Bfloat16 => ScalarType.BFloat16,
        _ => ScalarType.Float32,
    };

    /// <summary>Bytes of one element of the compute dtype a spec's <c>dtype</c> gives on a device of <paramref name="kind"/>
    /// (<see cref="ElementBytes"/> before the device is opened).</summary>
    public static int ElementBytesOn(DeviceKind kind, ComputeDType? dtype) => (ScalarTypeOf(dtype) ?? DefaultDType(kind)) == ScalarType.BFloat16 ? 2 : 4;

    /// <summary>
    /// The device and dtype as a job's record keys them where the job's result depends on them: null on CPU in float32,
    /// <c>cuda</c> on CUDA in bfloat16 (each device's default), and the device and the dtype otherwise
    /// (<c>cpu-bfloat16</c>, <c>cuda-float32</c>): bfloat16 results differ from float32 ones.
    /// </summary>
    public static string? KeyName(DeviceKind kind, ComputeDType? dtype = null) => KeyDType(kind, dtype) is { } type
        ? $"{Name(kind)}-{type}"
        : kind == DeviceKind.Cpu ? null : Name(kind);

    /// <summary>The dtype as a job's record keys it beside a device it already names (<c>scenario.device</c>): null
    /// where it is the device's default, else <c>bfloat16</c> or <c>float32</c>.</summary>
    public static string? KeyDType(DeviceKind kind, ComputeDType? dtype)
    {
        var type = ScalarTypeOf(dtype) ?? DefaultDType(kind);
        if (type == DefaultDType(kind)) return null;
        return type == ScalarType.BFloat16 ? "bfloat16" : "float32";
    }

    /// <summary>The spec spelling of a device kind: <c>cpu</c>, <c>cuda</c>.</summary>
    public static string Name(DeviceKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>A tensor on this device: floating point in the compute dtype, integers (token ids) as they are.</summary>
    public Tensor Put(Tensor t)
    {
        var floating = t.is_floating_point();
        if (t.device_type == Device.type && (!floating || t.dtype == DType)) return t;
        return floating ? t.to(DType, Device) : t.to(Device);
    }

    /// <summary>Moves a module's parameters to this device in the compute dtype (nothing when they are there); returns it.</summary>
    public T Place<T>(T module) where T : nn.Module
    {
        var first = module.parameters().FirstOrDefault();
        if (first is null || (first.device_type == Device.type && first.dtype == DType)) return module;
        module.to(Device);
        module.to(DType);
        return module;
    }

    /// <summary>Waits for the device's queued work: CUDA kernels run asynchronously, so a clock read without this times the launch, not the work.</summary>
    public void Synchronize()
    {
        if (IsCuda) cuda.synchronize();
    }

    /// <summary>Bytes of one element of the compute dtype (what a parameter or a cached key costs in memory here).</summary>
    public int ElementBytes => DType == ScalarType.BFloat16 ? 2 : 4;

    public override string ToString() => $"{Name(Kind)} ({DType.ToString().ToLowerInvariant()})";
}
