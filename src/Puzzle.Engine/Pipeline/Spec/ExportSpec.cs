using System.ComponentModel;
using Puzzle.Engine.Export;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>How the child is written as a Hugging Face model folder.</summary>
[Description("The Hugging Face export of the child.")]
public sealed record ExportSpec
{
    [Description("auto: llama when the layers are uniform, else nemotron-nas (DeciLM heterogeneous layers).")]
    public ExportFormat Format { get; init; } = ExportFormat.Auto;

    [Description("The runtime the export must load in.")]
    public ExportRuntime Runtime { get; init; } = ExportRuntime.Any;

    [Description("Weight type of the exported safetensors. Unset: the dtype the pipeline computes in, which the search's memory constraints and the measured costs price (float32 on a CPU, bfloat16 on CUDA, or the spec's dtype).")]
    public ExportDType? Dtype { get; init; }

    [Description("The model card's license: an SPDX id such as apache-2.0 or llama3.1, normally the parent's. Unset: the card says 'other' and asks for it.")]
    [Pattern("^[A-Za-z0-9][A-Za-z0-9.+-]*$", Hint = "an SPDX-style id such as apache-2.0, mit, llama3.1 or other")]
    public string? License { get; init; }

    [Description("The model card's base_model: the parent's Hugging Face id (e.g. meta-llama/Llama-3.1-8B), when it has one.")]
    [Pattern("^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$", Hint = "a Hugging Face id: owner/name")]
    public string? BaseModel { get; init; }

    /// <summary>The exporter's options: format, runtime and weight type (license and base model go to the model card).
    /// An unset weight type is resolved when the Export job is planned (<see cref="Computed"/>).</summary>
    public ExportOptions Options() => new(Format, Runtime,
        Dtype ?? throw new InvalidOperationException("export.dtype is resolved to the compute dtype when the Export job is planned"));

    /// <summary>The weight type a pipeline computes in on <paramref name="device"/>: what its costs and memory
    /// constraints price, and what an unset export.dtype ships.</summary>
    public static ExportDType Computed(DeviceKind device, ComputeDType? dtype) =>
        ComputeDevice.ElementBytesOn(device, dtype) == 2 ? ExportDType.Bfloat16 : ExportDType.Float32;
}
