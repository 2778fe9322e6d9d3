using System.Text.Json.Nodes;

namespace Puzzle.Engine.Packaging;

/// <summary>What goes into a model package, and what its provenance manifest records about it.</summary>
public sealed record PackContents
{
    public required string Id { get; init; }
    public required string Version { get; init; }
    /// <summary>
    /// Ends the version with <c>.c</c> and 8 hex digits of what the package holds (its provenance, which hashes every
    /// file, and the facts of the build), so that a rebuild whose files differ (new measurements after a rerun) never
    /// takes the version of the one before, and equal versions are equal bytes.
    /// </summary>
    public bool VersionNamesContents { get; init; }
    /// <summary>An exported Hugging Face folder (README.md in it becomes the package's readme).</summary>
    public required string ModelDirectory { get; init; }
    /// <summary>The pipeline spec file, packed as written.</summary>
    public required string SpecPath { get; init; }
    /// <summary>The pipeline's report.json, packed beside the spec when there is one.</summary>
    public string? ReportPath { get; init; }
    public required string Pipeline { get; init; }
    public required string Model { get; init; }
    public required string PipelineKey { get; init; }
    public required IReadOnlyList<ProvenanceJob> Jobs { get; init; }
    public required JsonObject Export { get; init; }
    public JsonObject Metrics { get; init; } = new();
    public IReadOnlyList<string> NotBitIdentical { get; init; } = [];
    public IReadOnlyDictionary<string, string> Build { get; init; } = BuildFacts.Current();
    public string Description { get; init; } = "";
}
