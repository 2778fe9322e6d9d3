using System.Diagnostics;
using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// Runs one job into the store: takes the key's lock, returns the entry if someone else already published it,
/// otherwise runs the stage in a private staging folder and publishes it atomically.
/// </summary>
public static class JobRunner
{
    /// <summary>Environment variable through which an executor tells a job process which run it belongs to.</summary>
    public const string RunIdVariable = "PUZZLE_RUN_ID";

    public static readonly string ToolVersion =
        typeof(JobRunner).Assembly.GetName().Version?.ToString() ?? "0";

    /// <returns>the entry, and whether this call ran the job (false: it was cached)</returns>
    public static (CacheEntry Entry, bool Ran) Run(JobPlan job, PipelineSpec spec, CacheStore store, JobHistory history,
        TextWriter log, int threads, string? runId = null)
    {
        if (store.Find(job.Key) is { } hit) return (Remember(hit), false);
        using var _ = store.Lock(job.Key);
        if (store.Find(job.Key) is { } raced) return (Remember(raced), false);
        var staging = store.NewStaging(job.Key);
        var started = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        try
        {
            var context = new JobContext(job, spec, store, staging, log, threads);
            job.Stage.Run(context);
            if (context.UsedDevice is { } device) context.Metrics["device"] = device.ToString();
            var manifest = new JobManifest
            {
                Key = job.Key, Stage = job.Stage.Name, Job = job.Id, Version = job.Stage.Version, Config = job.Config,
                Inputs = job.InputKeys, Seed = job.Seed, Files = new Dictionary<string, string>(), Metrics = context.Metrics,
                StartedUtc = started, Seconds = clock.Elapsed.TotalSeconds, Host = Environment.MachineName, Tool = ToolVersion,
                RunId = runId ?? Environment.GetEnvironmentVariable(RunIdVariable) ?? "",
            };
            var published = store.Publish(staging, manifest);
            var resume = store.ResumeDirectory(job.Key);
            if (Directory.Exists(resume)) Directory.Delete(resume, recursive: true);
            return (Remember(published), true);
        }
        catch
        {
            try { Directory.Delete(staging, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }

        CacheEntry Remember(CacheEntry entry)
        {
            history.Record(job.Stage.Name, job.Id, new JobHistory.Entry(job.Key, (JsonObject)job.Config.DeepClone(), job.InputKeys, job.Seed));
            return entry;
        }
    }
}
