using System.Text.Json.Nodes;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// One planned job: what it reads (its config record and its inputs' keys) fixes its key before anything runs.
/// </summary>
public sealed class JobPlan
{
    public JobPlan(Stage stage, string id, object config, IReadOnlyDictionary<string, JobPlan> inputs, long seed = 0)
    {
        Stage = stage;
        Id = id;
        Config = config;
        ConfigJson = JobConfig.ToJson(config);
        Inputs = inputs;
        Seed = seed;
        Key = JobKey.Compute(stage.Name, stage.Version, ConfigJson, InputKeys, seed);
    }

    public Stage Stage { get; }
    /// <summary>Unique within the stage, e.g. <c>parent</c> or <c>layer3.ffn.ratio0.5</c>.</summary>
    public string Id { get; }
    /// <summary>The stage's job record: everything the job reads besides its inputs.</summary>
    public object Config { get; }
    /// <summary><see cref="Config"/> as the canonical JSON its key hashes (recorded in manifests and history).</summary>
    public JsonObject ConfigJson { get; }
    /// <summary><see cref="Config"/> as the stage's record type.</summary>
    public T ConfigAs<T>() => Config is T typed ? typed
        : throw new InvalidOperationException($"{Name}: config is a {Config.GetType().Name}, not a {typeof(T).Name}");
    /// <summary>Upstream jobs by the name this job knows them under.</summary>
    public IReadOnlyDictionary<string, JobPlan> Inputs { get; }
    public long Seed { get; }
    public string Key { get; }
    public string Name => $"{Stage.Name}/{Id}";

    public IReadOnlyDictionary<string, string> InputKeys =>
        Inputs.ToDictionary(p => p.Key, p => p.Value.Key);

    public override string ToString() => $"{Name} ({Key[..12]})";
}
