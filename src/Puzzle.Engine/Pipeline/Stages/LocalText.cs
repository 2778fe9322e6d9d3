using System.Text.Json.Nodes;
using Puzzle.Engine.Data;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>The text a pipeline trains on: fetched npm sources (upstream jobs) plus the spec's local files, whose contents enter the key.</summary>
public static class LocalText
{
    /// <summary>Each local training file (relative to the spec's base folder) with its SHA-256.</summary>
    public static JsonArray Fingerprint(PipelineSpec spec)
    {
        if (spec.Data.Train.Count == 0) return [];
        var files = InputFiles.Resolve(spec.Data.Train, spec.BaseDirectory);
        return new JsonArray(files.Select(f => (JsonNode)new JsonObject
        {
            ["path"] = Path.GetRelativePath(spec.BaseDirectory, f).Replace('\\', '/'),
            ["sha256"] = CacheStore.HashFile(f),
        }).ToArray());
    }

    /// <summary>Fetch jobs as inputs named fetch:ID.</summary>
    public static Dictionary<string, JobPlan> FetchInputs(IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
        planned["Fetch"].ToDictionary(j => "fetch:" + j.Id, j => j);

    /// <summary>Globs and paths of every training text of a job: fetched documents first, then local files.</summary>
    public static IReadOnlyList<string> Inputs(JobContext context) =>
        context.Job.Inputs.Keys.Where(k => k.StartsWith("fetch:")).Order(StringComparer.Ordinal)
            .Select(k => FetchStage.DocumentsGlob(context.Input(k)))
            .Concat(context.Spec.Data.Train.Select(t => Path.IsPathRooted(t) ? t : Path.Combine(context.Spec.BaseDirectory, t)))
            .ToList();
}
