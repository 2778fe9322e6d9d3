using System.Diagnostics;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// Runs a target's missing jobs, independent ones in parallel (up to <paramref name="parallelJobs"/>), dividing the
/// cores between jobs and torch threads: evenly among the jobs running, so a job left running alone gets the cores of
/// those that ended (<see cref="IJobLauncher.SetThreads"/>), unless <paramref name="threadsPerJob"/> fixes the count; a
/// job of a single-threaded stage (<see cref="Stage.SingleThreaded"/>) gets one core whatever the count. A
/// process estimated to hold more than its share of its device's memory (<see cref="Stage.PlannedMemory"/> against
/// <see cref="PlanMemory.Share"/>: one Heal process of a child of an 8B parent beside another on a GPU shared by two
/// jobs) runs alone on it: on a GPU, on an idle one that takes no other job meanwhile; on this machine, with no other job
/// beside it. A failed job stops what depends on it and nothing else; what finished stays cached.
/// </summary>
/// <param name="gpus">the GPUs jobs on CUDA may use, and how many jobs on each at a time; null: such jobs are not limited</param>
/// <param name="cores">the cores to divide (default: this machine's)</param>
/// <param name="stageThreads">the threads a stage's jobs get where the spec gives that stage its own count (a Slurm
/// stage's entry: executor.slurm.stages), over <paramref name="threadsPerJob"/>; null for the others</param>
public sealed class LocalExecutor(CacheStore store, JobHistory history, IJobLauncher launcher, int parallelJobs,
    int? threadsPerJob = null, TextWriter? console = null, GpuSlots? gpus = null, int? cores = null, Func<Stage, int?>? stageThreads = null)
{
    readonly TextWriter _console = console ?? Console.Error;

    /// <summary>How long a job that ended on a filesystem error that may pass waits before it starts once more
    /// (<see cref="JobExit.RetryDelay"/>; a test's few milliseconds).</summary>
    internal TimeSpan RetryDelay { get; init; } = JobExit.RetryDelay;

    /// <summary>The clock that times <see cref="RetryDelay"/> (a test's, which moves when the test says).</summary>
    internal TimeProvider Time { get; init; } = TimeProvider.System;

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
                history.Record(job.Stage.Name, job.Id, new JobHistory.Entry(job.Key, job.ConfigJson, job.InputKeys, job.Seed));
                records[job] = new JobRecord(job.Stage.Name, job.Id, job.Key, JobOutcome.Cached, 0, null);
            }
            else
            {
                if (store.Damage(job.Key, full: false) is { } why) SetAside(job, why);
                pending.Add(job);
            }
        }
        // the cached entries that this run's jobs will read are hashed in full first: a damaged one is rebuilt before them
        var verified = new HashSet<string>();
        for (var i = 0; i < pending.Count; i++)
            foreach (var input in pending[i].Inputs.Values.Distinct())
                if (records.TryGetValue(input, out var record) && record.Outcome == JobOutcome.Cached && verified.Add(input.Key) &&
                    store.Damage(input.Key, full: true) is { } why)
                {
                    SetAside(input, why);
                    records.Remove(input);
                    pending.Add(input);
                }
        void SetAside(JobPlan job, string why)
        {
            var moved = store.Quarantine(job.Key);
            _console.WriteLine($"damaged {job.Name}: {why}; " +
                               (moved is null ? "another run holds it" : $"moved to {Path.GetRelativePath(store.Root, moved)}") + ", rebuilding");
        }
        var stageOrder = graph.Stages.Select((stage, i) => (stage.Name, i)).ToDictionary(p => p.Name, p => p.i);
        var running = new Dictionary<Task<int>, (JobPlan Job, Stopwatch Clock, string? Gpu, int Threads)>();
        var progress = new RunProgress(pending, clock, parallelJobs, RunProgress.StageTimes(RunSummary.Earlier(store.Root, pipeline)));
        var machineCores = cores ?? Environment.ProcessorCount;
        bool OnGpu(JobPlan job) => gpus is not null && job.Stage.ComputesOn(graph.Spec) == DeviceKind.Cuda;
        var alone = new AloneJobs(graph, gpus, hostShared: parallelJobs > 1 && launcher.OnThisMachine);
        var told = new HashSet<JobPlan>(); // jobs said to wait to run alone
        var again = new HashSet<JobPlan>(); // jobs started once more after a filesystem error that may pass
        // those waiting to start once more, each until its delay ends (or the run is cancelled), with its attempt's log:
        // the loop waits on these beside the running jobs, so that others start and end meanwhile
        var delayed = new Dictionary<Task, (JobPlan Job, string Log)>();
        void Waits(JobPlan job, string until)
        {
            if (told.Add(job)) _console.WriteLine($"       {job.Name} waits {until} to run alone ({alone.Why(job)})");
        }
        // the jobs' own token: stopped with the run's, and when the executor itself fails (a log it cannot write, a
        // submission refused) so that no job process runs on without it
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        string? saved = null; // where the run's record went
        try
        {
            while (pending.Count > 0 || running.Count > 0 || delayed.Count > 0)
            {
                cancel.ThrowIfCancellationRequested(); // nothing new starts once the run is cancelled
                // a job that another process built meanwhile (a companion built with another job of its stage) is not launched
                foreach (var built in pending.Where(j => j.Inputs.Values.All(records.ContainsKey) && store.Find(j.Key) is not null).ToList())
                {
                    pending.Remove(built);
                    var published = store.Find(built.Key)!;
                    var outcome = published.Manifest.RunId == runId ? JobOutcome.Ran : JobOutcome.Cached;
                    var with = $"built with {published.Manifest.Metrics["built_with"]?.ToString() ?? "another job"}";
                    records[built] = new JobRecord(built.Stage.Name, built.Id, built.Key, outcome, 0, null, with); // no time of its own
                    history.Record(built.Stage.Name, built.Id, new JobHistory.Entry(built.Key, built.ConfigJson, built.InputKeys, built.Seed));
                    progress.BuiltWith(built); // counted, without a time of its own
                    _console.WriteLine($"{progress.Counter} {(outcome == JobOutcome.Ran ? "done  " : "cached")} {built.Name} ({with})");
                }
                SkipBlocked(pending, records, progress);
                // earlier stages first (a stable order): a target's jobs come depth first, a layer's Score right after its
                // variants, and a Score process started before the last variants are trained builds fewer layers together
                var ready = pending.Where(j => j.Inputs.Values.All(i => records.TryGetValue(i, out var r) &&
                                                                        r.Outcome is JobOutcome.Cached or JobOutcome.Ran))
                    .OrderBy(j => stageOrder[j.Stage.Name]).ToList();
                // an exclusive job (a timing) starts only on an idle machine, once no other job is ready (it then times on a
                // machine warmed by the run, closer in time to the timings it is compared with), and nothing starts beside it
                if (running.Values.Any(r => r.Job.Stage.Exclusive || alone.OnHost(r.Job))) ready.Clear();
                else if (ready.FirstOrDefault(alone.OnHost) is { } large) // the others end first, and none starts meanwhile
                {
                    if (running.Count > 0) Waits(large, "for the jobs running to end");
                    ready = running.Count == 0 ? [large] : [];
                }
                else if (ready.Any(j => !j.Stage.Exclusive)) ready = ready.Where(j => !j.Stage.Exclusive).ToList();
                else if (running.Count > 0) ready.Clear();
                else if (ready.Count > 0) ready = [ready[0]];
                ready = WithoutCompanions(ready, running.Values.Select(r => r.Job), graph);
                var slots = Math.Min(parallelJobs - running.Count, ready.Count);
                var threads = threadsPerJob ?? Share(machineCores, running.Values.Select(r => r.Job).Concat(ready.Take(slots)).ToList());
                if (ready.Count == 1 && ready[0].Stage.Exclusive) (slots, threads) = (1, threadsPerJob ?? machineCores);
                var launched = 0;
                // jobs that need a GPU alone try first; those that must wait keep GPUs that then take no new job, so that they empty
                var gpuAlone = ready.Where(j => OnGpu(j) && alone.Of(j) is not null).ToHashSet();
                var waiting = 0;
                foreach (var job in ready.OrderBy(j => !gpuAlone.Contains(j)))
                {
                    if (launched >= slots) break;
                    string? gpu = null;
                    if (OnGpu(job))
                    {
                        var onItsOwn = gpuAlone.Contains(job);
                        if (!onItsOwn) gpus!.Reserve(waiting);
                        if (!gpus!.TryTake(out gpu, onItsOwn))
                        {
                            if (onItsOwn)
                            {
                                waiting++;
                                Waits(job, "for a GPU to empty");
                            }
                            continue; // every GPU is busy (or, for a job alone, none is idle)
                        }
                    }
                    launched++;
                    pending.Remove(job);
                    var privateLog = logs.Start(job);
                    var why = alone.Of(job) is not null && (gpu is not null || alone.OnHost(job))
                        ? $"; alone on {(gpu is null ? "this machine" : $"GPU {gpu}")}: {alone.Why(job)}" : "";
                    var jobThreads = stageThreads?.Invoke(job.Stage) ?? (job.Stage.SingleThreaded ? 1 : threads);
                    _console.WriteLine($"{progress.Started()} run    {job.Name} ({jobThreads} thread{(jobThreads == 1 ? "" : "s")}{why}); log: {logs.PathOf(job)}");
                    running[launcher.LaunchAsync(job, runId, privateLog, jobThreads, stop.Token, gpu)] = (job, Stopwatch.StartNew(), gpu, jobThreads);
                }
                gpus?.Reserve(waiting);
                launcher.Flush();
                if (threadsPerJob is null) Rebalance(running, machineCores);
                if (running.Count == 0 && delayed.Count == 0)
                {
                    if (pending.Count > 0) throw new InvalidOperationException($"no job can start: {string.Join(", ", pending.Select(p => p.Name))}");
                    break;
                }
                var next = await Task.WhenAny(running.Keys.Concat<Task>(delayed.Keys));
                if (delayed.Remove(next, out var retry))
                {
                    // a delay cancelled with the run ends the run here, its job recorded as not started again (Stopped)
                    if (cancel.IsCancellationRequested) delayed[next] = retry;
                    else pending.Add(retry.Job);
                    continue;
                }
                var done = (Task<int>)next;
                var (finished, jobClock, usedGpu, _) = running[done];
                // a launcher that fails (a cluster's queue that stops answering, a job process that cannot be started) fails
                // its job, not the run: the others go on, and the run is recorded; a cancelled run ends here, its job still running
                var (exit, launchError) = await Outcome(done);
                running.Remove(done);
                if (usedGpu is not null) gpus!.Return(usedGpu);
                var result = exit == 0 || launchError is not null ? store.Find(finished.Key) : null;
                // a job on this machine that ended on a filesystem error that may pass starts once more, as a cluster's
                // launcher submits such a task again (within its retries, before it reports the exit here): after
                // RetryDelay, as a mount that stopped answering rarely answers again at once; a timer, not a thread, waits
                if (result is null && launchError is null && exit == JobExit.PassingError && launcher.OnThisMachine && again.Add(finished))
                {
                    var attempt = logs.Finish(finished, RunLogs.Outcome.Failed);
                    progress.Again();
                    _console.WriteLine($"{progress.Counter} again  {JobExit.Retrying(finished.Name, RetryDelay)}; the attempt's log: {attempt}");
                    foreach (var line in RunLogs.FailureExcerpt(attempt)) _console.WriteLine("       | " + line);
                    delayed[Task.Delay(RetryDelay, Time, stop.Token)] = (finished, attempt);
                    continue;
                }
                // another run on the same store may have built it while this one waited on the key's lock: its log stays
                var waited = result is not null && result.Manifest.RunId != runId;
                // on a cluster the clock runs from the submission to the poll that saw the task end (10 s apart by default,
                // after its wait in the queue): the job's time is the one its process recorded, and the clock's is said beside it
                var onCluster = result is not null && !waited && !launcher.OnThisMachine;
                var took = onCluster ? TimeSpan.FromSeconds(result!.Manifest.Seconds) : jobClock.Elapsed;
                progress.Finished(finished, took);
                var log = logs.Finish(finished, waited ? RunLogs.Outcome.Waited : result is null ? RunLogs.Outcome.Failed : RunLogs.Outcome.Built);
                if (result is { } entry)
                {
                    var outcome = waited ? JobOutcome.Cached : JobOutcome.Ran;
                    records[finished] = new JobRecord(finished.Stage.Name, finished.Id, finished.Key, outcome, took.TotalSeconds, log);
                    var companions = pending.Where(j => j.Stage == finished.Stage && store.Find(j.Key) is not null).ToList(); // counted next
                    _console.WriteLine($"{progress.Counter} {(outcome == JobOutcome.Ran ? "done  " : "cached")} {finished.Name} in {RunProgress.Duration(took)}" +
                                       (onCluster ? $" ({RunProgress.Duration(jobClock.Elapsed)} from its submission)" : "") +
                                       progress.Eta(running.Values.Select(r => (r.Job, launcher.RunningFor(r.Job) ?? r.Clock.Elapsed)), companions));
                }
                else
                {
                    var reason = launchError is not null ? $"its launcher failed: {launchError}" : exit == 0 ? "exited 0 but published nothing" : Exit(exit);
                    records[finished] = new JobRecord(finished.Stage.Name, finished.Id, finished.Key, JobOutcome.Failed, jobClock.Elapsed.TotalSeconds, log, reason);
                    _console.WriteLine($"{progress.Counter} FAILED {finished.Name} ({(launchError is null ? Exit(exit) : reason)}); log: {log}");
                    foreach (var line in RunLogs.FailureExcerpt(log)) _console.WriteLine("       | " + line);
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // the jobs' token is linked to the run's: their processes are being killed, their arrays cancelled
            await Stopped("the run was cancelled");
            var stopped = Record("the run was cancelled");
            int Count(JobOutcome outcome, string? reason = null) =>
                stopped.Where(outcome).Count(j => reason is null || j.Reason?.StartsWith(reason, StringComparison.Ordinal) == true);
            _console.WriteLine($"cancelled run: {Count(JobOutcome.Ran)} ran, {Count(JobOutcome.Failed)} failed, " +
                               $"{Count(JobOutcome.Cancelled, "stopped")} stopped, {Count(JobOutcome.Cancelled, "not started")} not started; " +
                               $"record: {saved}");
            throw new RunCancelledException(stopped, cancel);
        }
        catch (Exception e)
        {
            await stop.CancelAsync(); // a job process is killed, a cluster's array cancelled; the executor's error is the run's
            try
            {
                await Stopped($"the executor failed: {e.Message}");
                Record($"the executor failed: {e.Message}");
            }
            catch (Exception unsaved) when (unsaved is IOException or UnauthorizedAccessException) { } // the store's own error, maybe: the first one is the run's
            throw;
        }
        return Record(null);

        // the jobs still running once they have been told to stop: each ends as published, or as stopped with its log kept
        // as the job's failed log (what it did until then), at most 30 s later; those waiting to start once more, as not
        // started again
        async Task Stopped(string why)
        {
            var ended = Task.WhenAll(running.Keys).ContinueWith(_ => { }, TaskScheduler.Default);
            await Task.WhenAny(ended, Task.Delay(TimeSpan.FromSeconds(30)));
            foreach (var (job, jobClock, _, _) in running.Values)
            {
                var built = store.Find(job.Key) is { } entry && entry.Manifest.RunId == runId;
                var log = built ? logs.Finish(job, RunLogs.Outcome.Built) : logs.Stop(job, why);
                records[job] = new JobRecord(job.Stage.Name, job.Id, job.Key, built ? JobOutcome.Ran : JobOutcome.Cancelled,
                    jobClock.Elapsed.TotalSeconds, log, built ? null : $"stopped: {why}");
            }
            running.Clear();
            // a job waiting to start once more is not started: its attempt's log says what ended it
            foreach (var (job, attempt) in delayed.Values)
                records[job] = new JobRecord(job.Stage.Name, job.Id, job.Key, JobOutcome.Cancelled, 0, attempt,
                    $"not started again: {why} while it waited after exit {JobExit.PassingError} (a filesystem error that may pass)");
            delayed.Clear();
        }

        // the run's record, saved in the store; a job that never started is recorded as cancelled, saying why
        RunSummary Record(string? why)
        {
            var summary = new RunSummary(pipeline, target, started, clock.Elapsed.TotalSeconds, jobs.Select(j => records.TryGetValue(j, out var r)
                ? r : new JobRecord(j.Stage.Name, j.Id, j.Key, JobOutcome.Cancelled, 0, null, $"not started: {why}")).ToList());
            saved = summary.Save(store.Root);
            return summary;
        }
    }

    /// <summary>A launched job's exit status, or the error its launcher failed with (a cancelled run still ends the run).</summary>
    static async Task<(int Exit, string? LaunchError)> Outcome(Task<int> launched)
    {
        try { return (await launched, null); }
        catch (Exception e) when (e is not OperationCanceledException) { return (-1, e.Message); }
    }

    /// <summary>A job's share of the cores among <paramref name="jobs"/> (those running and those starting): one core for
    /// each single-threaded job (<see cref="Stage.SingleThreaded"/>), the rest divided evenly among the others.</summary>
    internal static int Share(int cores, IReadOnlyCollection<JobPlan> jobs)
    {
        var single = jobs.Count(j => j.Stage.SingleThreaded);
        return GraphDocument.ThreadShare(cores, single, jobs.Count - single);
    }

    /// <summary>The cores divided among the running jobs again (<see cref="Share"/>): a job left running alone (a library's
    /// process after the parent's evaluation beside it ended) gets the freed cores, and gives them back when another
    /// starts. A job of a stage that computes nothing with torch (fetching, the tokenizer, Data's parallel tokenizing) is
    /// not told.</summary>
    void Rebalance(Dictionary<Task<int>, (JobPlan Job, Stopwatch Clock, string? Gpu, int Threads)> running, int machineCores)
    {
        if (running.Count == 0) return;
        var share = Share(machineCores, running.Values.Select(r => r.Job).ToList());
        foreach (var (task, r) in running.Where(r => r.Value.Threads != share && r.Value.Job.Stage.UsesTorch).ToList())
            if (launcher.SetThreads(r.Job, share))
            {
                running[task] = r with { Threads = share };
                _console.WriteLine($"       {r.Job.Name} now has {share} thread{(share == 1 ? "" : "s")}");
            }
    }

    /// <summary>A job process's exit status as people read it: a process killed by a signal exits 128 plus its number,
    /// and one killed by SIGKILL that nobody sent was most often out of memory (its log then just stops).</summary>
    internal static string Exit(int exit) => exit switch
    {
        JobExit.PassingError => $"exit {exit}: a filesystem error that may pass (its log says which): run again once the filesystem answers",
        128 + 9 => $"exit {exit}: killed by SIGKILL, most often the kernel's out-of-memory killer (dmesg says)",
        128 + 6 => $"exit {exit}: aborted (SIGABRT)",
        128 + 11 => $"exit {exit}: segmentation fault (SIGSEGV)",
        128 + 15 => $"exit {exit}: terminated (SIGTERM)",
        _ => $"exit {exit}",
    };

    /// <summary>
    /// Leaves out the jobs that a running or an earlier ready job of their stage builds as a companion (one process
    /// trains a group of variants from one pass of the parent): they are published when it ends.
    /// </summary>
    static List<JobPlan> WithoutCompanions(List<JobPlan> ready, IEnumerable<JobPlan> running, PipelineGraph graph)
    {
        var leads = running.ToList();
        var kept = new List<JobPlan>();
        foreach (var job in ready)
        {
            var stageJobs = graph.Jobs[job.Stage.Name];
            if (leads.Any(l => l.Stage == job.Stage && l.Stage.Companions(l, stageJobs, graph.Spec).Contains(job))) continue;
            kept.Add(job);
            leads.Add(job);
        }
        return kept;
    }

    /// <summary>Marks every pending job with a failed or skipped input as skipped, transitively.</summary>
    void SkipBlocked(List<JobPlan> pending, Dictionary<JobPlan, JobRecord> records, RunProgress progress)
    {
        var skipped = new List<(JobPlan Job, JobPlan Cause)>();
        bool Bad(JobPlan input) => records.TryGetValue(input, out var r) && r.Outcome is JobOutcome.Failed or JobOutcome.Skipped;
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var blocked in pending.Where(j => j.Inputs.Values.Any(Bad)).ToList())
            {
                var cause = blocked.Inputs.Values.First(Bad);
                pending.Remove(blocked);
                records[blocked] = new JobRecord(blocked.Stage.Name, blocked.Id, blocked.Key, JobOutcome.Skipped, 0, null, $"input {cause.Name} did not build");
                progress.Skipped(blocked);
                skipped.Add((blocked, cause));
                changed = true;
            }
        }
        // one line per cause: a failed Parent would otherwise print a line for each of its dozens of readers
        foreach (var group in skipped.GroupBy(s => s.Cause.Name))
            _console.WriteLine($"skip   {group.Count()} job{(group.Count() == 1 ? "" : "s")} that need{(group.Count() == 1 ? "s" : "")} {group.Key}: " +
                               string.Join(", ", group.Select(s => s.Job.Name).Take(6)) + (group.Count() > 6 ? $", ... ({group.Count() - 6} more)" : ""));
    }
}
