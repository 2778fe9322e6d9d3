using System.CommandLine;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Cli.Commands;

/// <summary><c>--device</c> and <c>--dtype</c> for the verbs that run a model outside a pipeline (eval, logits).</summary>
public static class DeviceOptions
{
    public static Option<string?> Device()
    {
        var option = new Option<string?>("--device") { Description = "cpu (default) or cuda" };
        option.AcceptOnlyFromAmong("cpu", "cuda");
        return option;
    }

    public static Option<string?> DType()
    {
        var option = new Option<string?>("--dtype") { Description = "compute dtype: float32 or bfloat16 (default: float32 on cpu, bfloat16 on cuda)" };
        option.AcceptOnlyFromAmong("float32", "bfloat16");
        return option;
    }

    /// <summary>The device asked for, checked to be usable.</summary>
    public static ComputeDevice Open(string? device, string? dtype) =>
        ComputeDevice.Open(PipelineOptions.ParseDevice(device) ?? DeviceKind.Cpu, "--device",
            dtype switch { null => null, "bfloat16" => ScalarType.BFloat16, _ => ScalarType.Float32 });
}
