using System.Text.Json.Nodes;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// One planned job: what it reads (its config slice and its inputs' keys) fixes its key before anything runs.
/// </summary>
public sealed class JobPlan
{
    public JobPlan(Stage stage, string id, JsonObject config, IReadOnlyDictionary<string, JobPlan> inputs, long seed = 0)
    {
        Stage = stage;
        Id = id;
        Config = JobKey.Canonical(config);
        Inputs = inputs;
        Seed = seed;
        Key = JobKey.Compute(stage.Name, stage.Version, Config, InputKeys, seed);
    }

    public Stage Stage { get; }
    /// <summary>Unique within the stage, e.g. <c>parent</c> or <c>layer3.ffn.ratio0.5</c>.</summary>
    public string Id { get; }
    public JsonObject Config { get; }
    /// <summary>Upstream jobs by the name this job knows them under.</summary>
    public IReadOnlyDictionary<string, JobPlan> Inputs { get; }
    public long Seed { get; }
    public string Key { get; }
    public string Name => $"{Stage.Name}/{Id}";

    public IReadOnlyDictionary<string, string> InputKeys =>
        Inputs.ToDictionary(p => p.Key, p => p.Value.Key);

    public override string ToString() => $"{Name} ({Key[..12]})";
}
