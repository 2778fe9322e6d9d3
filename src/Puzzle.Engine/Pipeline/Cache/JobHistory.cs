using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>
/// What each job of a pipeline was last published as (key, config, inputs), so <c>status</c> can say why a job is
/// stale: which config field or which input changed since.
/// </summary>
public sealed class JobHistory(string root, string pipeline)
{
    public sealed record Entry(string Key, JsonObject Config, IReadOnlyDictionary<string, string> Inputs, long Seed);

    string PathOf(string stage, string job) => Path.Combine(root, "history", pipeline, stage, job + ".json");

    /// <summary>The job's last published key, config and inputs; null when there is none, or the file is truncated or
    /// incomplete (<c>"inputs": null</c>, read leniently, stopped <c>puzzle status</c> on a NullReferenceException; as
    /// for a manifest, <see cref="JobManifest.TryRead"/>): the status then gives no reason from history.</summary>
    public Entry? Last(string stage, string job)
    {
        var path = PathOf(stage, job);
        try
        {
            return File.Exists(path) && JsonSerializer.Deserialize<Entry>(File.ReadAllText(path), Reading) is { } entry && entry.Inputs.Values.All(key => key is not null)
                ? entry
                : null;
        }
        catch (JsonException) { return null; }
    }

    /// <summary><see cref="JobManifest.Reading"/>, and every field of an entry required: all four were there from the start.</summary>
    static readonly JsonSerializerOptions Reading = new(JobManifest.Reading) { RespectRequiredConstructorParameters = true };

    public void Record(string stage, string job, Entry entry)
    {
        var path = PathOf(stage, job);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(entry, JobManifest.Json));
    }
}
