using Puzzle.Engine.Data;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>One local training file: its path relative to the spec's folder and its SHA-256 (what a key hashes).</summary>
public sealed record LocalFile(string Path, string Sha256);

/// <summary>The spec's local training files as a job reads them: their contents enter the key, where they lie does not.</summary>
[JobRecord]
public sealed record LocalText(IReadOnlyList<LocalFile> Files, [property: NotInKey("where the spec's folder lies; the files' contents are keyed")] string BaseDirectory)
{
    /// <summary>Each local training file (relative to the spec's base folder) with its SHA-256.</summary>
    public static LocalText Of(PipelineSpec spec)
    {
        if (spec.Data.Train.Count == 0) return new([], spec.BaseDirectory);
        var files = InputFiles.Resolve(spec.Data.Train, spec.BaseDirectory);
        return new(files.Select(f => new LocalFile(System.IO.Path.GetRelativePath(spec.BaseDirectory, f).Replace('\\', '/'), CacheStore.HashFile(f))).ToList(),
            spec.BaseDirectory);
    }

    /// <summary>Fetch jobs as inputs named fetch:ID.</summary>
    public static Dictionary<string, JobPlan> FetchInputs(IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
        planned["Fetch"].ToDictionary(j => "fetch:" + j.Id, j => j);

    /// <summary>Globs and paths of every training text of a job: fetched documents first, then the local files.</summary>
    public IReadOnlyList<string> Inputs(JobContext context) =>
        context.Job.Inputs.Keys.Where(k => k.StartsWith("fetch:")).Order(StringComparer.Ordinal)
            .Select(k => FetchStage.DocumentsGlob(context.Input(k)))
            .Concat(Files.Select(f => System.IO.Path.GetFullPath(f.Path, BaseDirectory)))
            .ToList();
}
