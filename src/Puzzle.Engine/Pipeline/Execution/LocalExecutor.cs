using System.Diagnostics;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// Runs a target's missing jobs, independent ones in parallel (up to <paramref name="parallelJobs"/>), dividing the
/// cores between jobs and torch threads. A failed job stops what depends on it and nothing else; what finished stays cached.
/// </summary>
public sealed class LocalExecutor(CacheStore store, JobHistory history, IJobLauncher launcher, int parallelJobs,
    int? threadsPerJob = null, TextWriter? console = null)
{
    readonly TextWriter _console = console ?? Console.Error;

    public string LogPath(string pipeline, JobPlan job) => new RunLogs(store.Root, pipeline).PathOf(job);

    public async Task<RunSummary> RunAsync(PipelineGraph graph, string? target, CancellationToken cancel = default)
    {
        var started = DateTime.UtcNow;
        var runId = Guid.NewGuid().ToString("N");
        var clock = Stopwatch.StartNew();
        var pipeline = graph.Spec.Name;
        var logs = new RunLogs(store.Root, pipeline);
        var jobs = graph.JobsFor(target);
        var records = new Dictionary<JobPlan, JobRecord>();
        var pending = new List<JobPlan>();
        foreach (var job in jobs)
        {
            if (store.Find(job.Key) is not null)
            {
                history.Record(job.Stage.Name, job.Id, new JobHistory.Entry(job.Key, job.Config, job.InputKeys, job.Seed));
                records[job] = new JobRecord(job.Stage.Name, job.Id, job.Key, JobOutcome.Cached, 0, null);
            }
            else pending.Add(job);
        }
        var running = new Dictionary<Task<int>, (JobPlan Job, Stopwatch Clock)>();
        var cores = Environment.ProcessorCount;
        while (pending.Count > 0 || running.Count > 0)
        {
            SkipBlocked(pending, records);
            var ready = pending.Where(j => j.Inputs.Values.All(i => records.TryGetValue(i, out var r) &&
                                                                    r.Outcome is JobOutcome.Cached or JobOutcome.Ran)).ToList();
            // an exclusive job (a timing) starts only on an idle machine and nothing starts beside it
            if (running.Values.Any(r => r.Job.Stage.Exclusive)) ready.Clear();
            else if (ready.FirstOrDefault(j => j.Stage.Exclusive) is { } alone) ready = running.Count == 0 ? [alone] : ready.Where(j => !j.Stage.Exclusive).ToList();
            var slots = Math.Min(parallelJobs - running.Count, ready.Count);
            var concurrent = Math.Max(1, Math.Min(parallelJobs, running.Count + ready.Count));
            var threads = threadsPerJob ?? Math.Max(1, cores / concurrent);
            if (ready.Count == 1 && ready[0].Stage.Exclusive) (slots, threads) = (1, threadsPerJob ?? cores);
            foreach (var job in ready.Take(Math.Max(0, slots)))
            {
                pending.Remove(job);
                _console.WriteLine($"run    {job.Name} ({threads} thread{(threads == 1 ? "" : "s")})");
                running[launcher.LaunchAsync(job, runId, logs.Start(job), threads, cancel)] = (job, Stopwatch.StartNew());
            }
            launcher.Flush();
            if (running.Count == 0)
            {
                if (pending.Count > 0) throw new InvalidOperationException($"no job can start: {string.Join(", ", pending.Select(p => p.Name))}");
                break;
            }
            var done = await Task.WhenAny(running.Keys);
            var (finished, jobClock) = running[done];
            running.Remove(done);
            var exit = await done;
            var built = exit == 0 ? store.Find(finished.Key) : null;
            // another run on the same store may have built it while this one waited on the key's lock: its log stays
            var waited = built is not null && built.Manifest.RunId != runId;
            var log = logs.Finish(finished, didTheWork: !waited);
            if (built is { } entry)
            {
                var outcome = waited ? JobOutcome.Cached : JobOutcome.Ran;
                records[finished] = new JobRecord(finished.Stage.Name, finished.Id, finished.Key, outcome, jobClock.Elapsed.TotalSeconds, log);
                _console.WriteLine($"{(outcome == JobOutcome.Ran ? "done  " : "cached")} {finished.Name} in {jobClock.Elapsed.TotalSeconds:F1} s");
            }
            else
            {
                records[finished] = new JobRecord(finished.Stage.Name, finished.Id, finished.Key, JobOutcome.Failed, jobClock.Elapsed.TotalSeconds, log,
                    exit == 0 ? "exited 0 but published nothing" : $"exit code {exit}");
                _console.WriteLine($"FAILED {finished.Name} (exit {exit}); log: {log}");
                foreach (var line in Tail(log, 15)) _console.WriteLine("       | " + line);
            }
        }
        var summary = new RunSummary(pipeline, target, started, clock.Elapsed.TotalSeconds, jobs.Select(j => records[j]).ToList());
        summary.Save(store.Root);
        return summary;
    }

    /// <summary>Marks every pending job with a failed or skipped input as skipped, transitively.</summary>
    void SkipBlocked(List<JobPlan> pending, Dictionary<JobPlan, JobRecord> records)
    {
        bool Bad(JobPlan input) => records.TryGetValue(input, out var r) && r.Outcome is JobOutcome.Failed or JobOutcome.Skipped;
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var blocked in pending.Where(j => j.Inputs.Values.Any(Bad)).ToList())
            {
                var cause = blocked.Inputs.Values.First(Bad);
                pending.Remove(blocked);
                records[blocked] = new JobRecord(blocked.Stage.Name, blocked.Id, blocked.Key, JobOutcome.Skipped, 0, null, $"input {cause.Name} did not build");
                _console.WriteLine($"skip   {blocked.Name}: input {cause.Name} did not build");
                changed = true;
            }
        }
    }

    static IEnumerable<string> Tail(string path, int lines) =>
        File.Exists(path) ? File.ReadLines(path).TakeLast(lines) : [];
}
