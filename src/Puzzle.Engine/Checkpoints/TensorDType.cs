namespace Puzzle.Engine.Checkpoints;

/// <summary>The safetensors element types this project reads and writes; read as stored or as float32.</summary>
public enum TensorDType { F32, F16, BF16 }

public static class TensorDTypes
{
    public static int ByteSize(this TensorDType dtype) => dtype == TensorDType.F32 ? 4 : 2;

    /// <summary>The torch element type of the same name.</summary>
    public static TorchSharp.torch.ScalarType ScalarType(this TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => TorchSharp.torch.ScalarType.Float32,
        TensorDType.F16 => TorchSharp.torch.ScalarType.Float16,
        _ => TorchSharp.torch.ScalarType.BFloat16,
    };

    /// <summary>The safetensors type that holds a torch float type exactly.</summary>
    public static TensorDType Of(TorchSharp.torch.ScalarType type) => type switch
    {
        TorchSharp.torch.ScalarType.Float32 => TensorDType.F32,
        TorchSharp.torch.ScalarType.Float16 => TensorDType.F16,
        TorchSharp.torch.ScalarType.BFloat16 => TensorDType.BF16,
        _ => throw new ArgumentException($"no safetensors type of this project holds {type}", nameof(type)),
    };

    /// <summary>The safetensors header spelling: "F32", "F16", "BF16".</summary>
    public static string SafeTensorsName(this TensorDType dtype) => dtype.ToString();

    /// <summary>The name Hugging Face writes as <c>torch_dtype</c> in config.json.</summary>
    public static string TorchName(this TensorDType dtype) => dtype switch
    {
        TensorDType.F32 => "float32",
        TensorDType.F16 => "float16",
        _ => "bfloat16",
    };

    public static bool TryParse(string name, out TensorDType dtype)
    {
        switch (name)
        {
            case "F32": dtype = TensorDType.F32; return true;
            case "F16": dtype = TensorDType.F16; return true;
            case "BF16": dtype = TensorDType.BF16; return true;
            default: dtype = default; return false;
        }
    }
}
