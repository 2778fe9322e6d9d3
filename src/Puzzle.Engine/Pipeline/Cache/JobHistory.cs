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

    public Entry? Last(string stage, string job)
    {
        var path = PathOf(stage, job);
        try { return File.Exists(path) ? JsonSerializer.Deserialize<Entry>(File.ReadAllText(path), JobManifest.Json) : null; }
        catch (JsonException) { return null; }
    }

    public void Record(string stage, string job, Entry entry)
    {
        var path = PathOf(stage, job);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(entry, JobManifest.Json));
    }
}
