namespace Puzzle.Engine.Export;

/// <summary>The inference runtime the export must load in.</summary>
public enum ExportRuntime
{
    /// <summary>No runtime-specific restriction.</summary>
    Any,
    /// <summary>Only layouts vLLM can load.</summary>
    Vllm,
}
