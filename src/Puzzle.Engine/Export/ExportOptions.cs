namespace Puzzle.Engine.Export;

/// <summary>How a child is exported: its Hugging Face layout, the runtime it must load in, and its weights' type.</summary>
public sealed record ExportOptions(ExportFormat Format = ExportFormat.Auto, ExportRuntime Runtime = ExportRuntime.Any,
    ExportDType DType = ExportDType.Float32);
