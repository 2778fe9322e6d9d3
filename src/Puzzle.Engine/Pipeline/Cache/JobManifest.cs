using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>The record of one published job: written last, so a folder without it is never a cache hit.</summary>
public sealed record JobManifest
{
    public const string FileName = "manifest.json";
    public required string Key { get; init; }
    public required string Stage { get; init; }
    public required string Job { get; init; }
    public required int Version { get; init; }
    public required JsonObject Config { get; init; }
    public required IReadOnlyDictionary<string, string> Inputs { get; init; }
    public required long Seed { get; init; }
    /// <summary>Payload file (relative path) → SHA-256.</summary>
    public required IReadOnlyDictionary<string, string> Files { get; init; }
    /// <summary>Payload file (relative path) → size in bytes, for the check every hit makes (empty in older manifests).</summary>
    public IReadOnlyDictionary<string, long> Sizes { get; init; } = new Dictionary<string, long>();
    public required JsonObject Metrics { get; init; }
    public required DateTime StartedUtc { get; init; }
    public required double Seconds { get; init; }
    public required string Host { get; init; }
    public required string Tool { get; init; }
    /// <summary>The processor the job ran on (libtorch picks its kernels by it); empty in older manifests.</summary>
    public string Cpu { get; init; } = "";
    /// <summary>The run that produced this entry: lets an executor tell "built by me" from "built meanwhile by another run".</summary>
    public string RunId { get; init; } = "";

    public static JsonSerializerOptions Json => PuzzleJson.Options;

    public string ToJson() => JsonSerializer.Serialize(this, Json) + "\n";

    /// <summary>
    /// <see cref="Json"/>, refusing null where a field has none: a manifest that parses but holds <c>"files": null</c>
    /// (an edit by hand, a tool rewriting it) was read as an entry, and every reader of the store then stopped on a
    /// NullReferenceException (<c>puzzle status</c>, <c>run</c>, <c>verify</c>).
    /// </summary>
    /// <remarks>
    /// A field absent fails only when it is <c>required</c>: those are the fields every manifest ever written has. The
    /// ones added since (<see cref="Sizes"/>, <see cref="Cpu"/>, <see cref="RunId"/>) keep their defaults when absent,
    /// so a store built by an older version stays a store of hits, not of damaged entries.
    /// </remarks>
    internal static readonly JsonSerializerOptions Reading = new(PuzzleJson.Options) { RespectNullableAnnotations = true };

    /// <summary>Reads a manifest; null when it is missing, truncated, incomplete (a required field absent or null, a
    /// payload file's hash or an input's key null) or not a manifest.</summary>
    public static JobManifest? TryRead(string path)
    {
        try
        {
            return File.Exists(path) && JsonSerializer.Deserialize<JobManifest>(File.ReadAllText(path), Reading) is { } manifest &&
                   manifest.Files.Values.All(hash => hash is not null) && manifest.Inputs.Values.All(key => key is not null)
                ? manifest
                : null;
        }
        catch (JsonException) { return null; }
    }
}
