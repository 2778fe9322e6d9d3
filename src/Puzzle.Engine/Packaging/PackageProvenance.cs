using System.Text.Json;
using System.Text.Json.Nodes;

namespace Puzzle.Engine.Packaging;

/// <summary>
/// <c>puzzle/provenance.json</c> in a model package: what the model is, the tool and libraries that made it, every job
/// key that produced it (enough to rebuild it from the spec beside it), its metrics, the SHA-256 of every other file
/// (checked when the package is loaded) and what in it cannot be bit-identical on a rebuild.
/// </summary>
public sealed record PackageProvenance
{
    public const string FileName = "provenance.json";
    public const int CurrentFormat = 1;

    public int Format { get; init; } = CurrentFormat;
    public required string Id { get; init; }
    public required string Version { get; init; }
    public required string Pipeline { get; init; }
    /// <summary>The report's name for the packed model, e.g. <c>child1</c>.</summary>
    public required string Model { get; init; }
    /// <summary>The key of the Pack job: it hashes every input, so it names the package's whole history.</summary>
    public required string PipelineKey { get; init; }
    public required string Tool { get; init; }
    /// <summary>The tool's version with its commit, and the libraries and machine facts that decide the bits: TorchSharp,
    /// libtorch, OR-Tools, .NET, OS, CPU.</summary>
    public required IReadOnlyDictionary<string, string> Build { get; init; }
    /// <summary>How the model was exported: format, dtype, runtime, parameters.</summary>
    public required JsonObject Export { get; init; }
    /// <summary>Package path of the pipeline spec as written, and its SHA-256.</summary>
    public required string Spec { get; init; }
    public required IReadOnlyList<ProvenanceJob> Jobs { get; init; }
    /// <summary>The report's row for this model and the parent's (empty when the pipeline had no report).</summary>
    public required JsonObject Metrics { get; init; }
    /// <summary>Package path (forward slashes) → hash and size, for every file but this one.</summary>
    public required IReadOnlyDictionary<string, ProvenanceFile> Files { get; init; }
    /// <summary>What a rebuild from the same spec on the same build does not reproduce bit for bit, and why.</summary>
    public required IReadOnlyList<string> NotBitIdentical { get; init; }

    /// <summary>PuzzleJson's form, without escaping apostrophes and the like: people read this file.</summary>
    static readonly JsonSerializerOptions Readable = new(PuzzleJson.Options) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string ToJson() => JsonSerializer.Serialize(this, Readable) + "\n";

    /// <exception cref="PackageIntegrityException">Missing, not JSON, or of a format this build does not read.</exception>
    public static PackageProvenance Read(string path)
    {
        if (!File.Exists(path)) throw new PackageIntegrityException($"{path}: missing; this is not a Puzzle model package (or it is damaged)");
        PackageProvenance? provenance;
        try { provenance = JsonSerializer.Deserialize<PackageProvenance>(File.ReadAllText(path), PuzzleJson.Options); }
        catch (JsonException e) { throw new PackageIntegrityException($"{path}: not a readable provenance manifest ({JsonErrors.Describe(e)})", e); }
        if (provenance is null) throw new PackageIntegrityException($"{path}: empty provenance manifest");
        if (provenance.Format != CurrentFormat)
            throw new PackageIntegrityException($"{path}: provenance format {provenance.Format}; this Puzzle.Engine reads format {CurrentFormat}");
        return provenance;
    }
}
