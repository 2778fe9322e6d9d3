using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>How the child is written as a Hugging Face model folder.</summary>
[Description("The Hugging Face export of the child.")]
public sealed record ExportSpec
{
    [Description("auto: llama when the layers are uniform, else nemotron-nas (DeciLM heterogeneous layers).")]
    public ExportFormat Format { get; init; } = ExportFormat.Auto;

    [Description("The runtime the export must load in.")]
    public ExportRuntime Runtime { get; init; } = ExportRuntime.Any;

    [Description("Weight type of the exported safetensors.")]
    public ExportDType Dtype { get; init; } = ExportDType.Float32;
}
