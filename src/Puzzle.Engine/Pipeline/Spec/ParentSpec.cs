using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The model to compress: exactly one of <see cref="Path"/> and <see cref="Pretrain"/>.</summary>
[Description("The parent model: give exactly one of path and pretrain.")]
public sealed record ParentSpec
{
    [Description("A Hugging Face Llama-family model folder (with config.json), relative to the repository root.")]
    public string? Path { get; init; }

    [Description("Pretrain a small Llama on the pipeline's data instead of loading one.")]
    public PretrainSpec? Pretrain { get; init; }
}
