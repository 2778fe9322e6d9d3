using System.Diagnostics;
using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// Runs one job into the store: takes the key's lock, returns the entry if someone else already published it,
/// otherwise runs the stage in a private staging folder and publishes it atomically.
/// </summary>
public static class JobRunner
{
    /// <summary>Environment variable through which an executor tells a job process which run it belongs to.</summary>
    public const string RunIdVariable = "PUZZLE_RUN_ID";

    /// <returns>the entry, and whether this call ran the job (false: it was cached)</returns>
    /// <param name="stageJobs">the stage's planned jobs, among which the stage may find <see cref="Stage.Companions"/> to
    /// build in this process as well (each published under its own key)</param>
    public static (CacheEntry Entry, bool Ran) Run(JobPlan job, PipelineSpec spec, CacheStore store, JobHistory history,
        TextWriter log, int threads, string? runId = null, IReadOnlyList<JobPlan>? stageJobs = null)
    {
        if (store.Find(job.Key) is { } hit && job.Stage.Lost(job, hit) is null) return (Remember(job, hit), false);
        using var _ = store.Lock(job.Key);
        if (store.Find(job.Key) is { } raced)
        {
            if (job.Stage.Lost(job, raced) is null) return (Remember(job, raced), false);
            store.RetireHeld(job.Key); // what it did outside the store is gone (MSBuild launches such a job): it runs again
        }
        var group = new List<(JobPlan Job, IDisposable? Lock)> { (job, null) };
        try
        {
            foreach (var other in job.Stage.Companions(job, stageJobs ?? [], spec))
            {
                if (other.Key == job.Key || group.Any(g => g.Job.Key == other.Key) || store.Find(other.Key) is not null) continue;
                if (other.Inputs.Values.Any(i => store.Find(i.Key) is null)) continue; // not ready: its own launch builds it later
                if (store.TryLock(other.Key) is not { } held) continue; // another process is building it
                if (store.Find(other.Key) is not null) { held.Dispose(); continue; }
                group.Add((other, held));
            }
            if (group.Count > 1) log.WriteLine($"building {group.Count} jobs together: {string.Join(", ", group.Select(g => g.Job.Id))}");
            var entries = Build(group.Select(g => g.Job).ToList(), spec, store, log, threads, runId);
            foreach (var (j, e) in group.Select(g => g.Job).Zip(entries)) Remember(j, e);
            return (entries[0], true);
        }
        finally
        {
            foreach (var (_, held) in group) held?.Dispose();
        }

        CacheEntry Remember(JobPlan j, CacheEntry entry)
        {
            history.Record(j.Stage.Name, j.Id, new JobHistory.Entry(j.Key, (JsonObject)j.ConfigJson.DeepClone(), j.InputKeys, j.Seed));
            return entry;
        }
    }

    /// <summary>Runs the jobs (one stage's, under their locks) in private staging folders and publishes each.</summary>
    static List<CacheEntry> Build(IReadOnlyList<JobPlan> jobs, PipelineSpec spec, CacheStore store, TextWriter log, int threads, string? runId)
    {
        var staging = jobs.Select(j => store.NewStaging(j.Key)).ToList();
        var started = DateTime.UtcNow;
        var clock = Stopwatch.StartNew();
        try
        {
            var contexts = jobs.Select((j, i) => new JobContext(j, spec, store, staging[i], log, threads)).ToList();
            var gpu = spec.Device == DeviceKind.Cuda || spec.Scenario.Device == DeviceKind.Cuda;
            using (var peaks = ResourcePeaks.Start(gpu))
            {
                if (contexts.Count == 1) jobs[0].Stage.Run(contexts[0]);
                else jobs[0].Stage.RunTogether(contexts);
                foreach (var c in contexts)
                {
                    if (ResourcePeaks.PeakRss() is { } rss) c.Metrics["peak_rss_bytes"] = rss;
                    if (TorchRuntime.IsLoaded) c.Metrics["torch_threads"] = TorchSharp.torch.get_num_threads(); // absent: libtorch never loaded
                    if (Environment.GetEnvironmentVariable(HugePages.Variable) is { } thp) c.Metrics["huge_pages"] = thp; // see HugePages
                    if (peaks.PeakGpuBytes is { } bytes) c.Metrics["peak_gpu_bytes"] = bytes;
                    if (peaks.PeakGpuProcessBytes is { } own) c.Metrics["peak_gpu_process_bytes"] = own;
                }
            }
            var seconds = clock.Elapsed.TotalSeconds; // built together: each records the group's time
            var entries = new List<CacheEntry>();
            foreach (var (job, context) in jobs.Zip(contexts))
            {
                if (context.UsedDevice is { } device) context.Metrics["device"] = device.ToString();
                if (jobs.Count > 1) context.Metrics["built_with"] = jobs[0].Id;
                var manifest = new JobManifest
                {
                    Key = job.Key, Stage = job.Stage.Name, Job = job.Id, Version = job.Stage.Version, Config = job.ConfigJson,
                    Inputs = job.InputKeys, Seed = job.Seed, Files = new Dictionary<string, string>(), Metrics = context.Metrics,
                    StartedUtc = started, Seconds = seconds, Host = Environment.MachineName, Tool = Packaging.BuildFacts.ToolVersion,
                    Cpu = Packaging.BuildFacts.Cpu(),
                    RunId = runId ?? Environment.GetEnvironmentVariable(RunIdVariable) ?? "",
                };
                entries.Add(store.Publish(context.OutputDirectory, manifest));
                var resume = store.ResumeDirectory(job.Key);
                if (Directory.Exists(resume)) Directory.Delete(resume, recursive: true);
            }
            return entries;
        }
        catch
        {
            foreach (var dir in staging.Where(Directory.Exists))
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
