using System.Diagnostics;
using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>Following the submitted tasks: one look at the queue per poll, and each task's log every second between
/// them; a task that ended is settled, one killed or lost is resubmitted, one that can never start is cancelled.</summary>
public sealed partial class SlurmJobLauncher
{
    /// <summary>How often the logs of the tasks in play are looked at for their end, between two looks at the queue.</summary>
    static readonly TimeSpan LogWatch = TimeSpan.FromSeconds(1);

    async Task PollAsync()
    {
        try
        {
            var queueLook = Stopwatch.StartNew();
            var poll = TimeSpan.FromSeconds(_slurm.PollSeconds);
            while (true)
            {
                await Task.Delay(poll < LogWatch ? poll : LogWatch, _stop.Token);
                lock (_gate)
                {
                    if (_cancelled) return;
                    WatchLogs();
                    if (queueLook.Elapsed >= poll)
                    {
                        Poll();
                        queueLook.Restart();
                    }
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception e)
        {
            // a poller that died quietly would leave the run waiting forever: fail what it was watching instead (kept
            // in the lists, so that disposing the launcher cancels what is still on the cluster)
            lock (_gate)
                foreach (var task in _submitted.Values.Concat(_waiting)) task.Done.TrySetException(e);
        }
    }

    /// <summary>One look at the queue: settles ended tasks, queues failed ones for resubmission and submits them.</summary>
    void Poll()
    {
        if (_submitted.Count == 0) return;
        IReadOnlyDictionary<string, QueuedTask> queue;
        try
        {
            queue = _client.Queue(_submitted.Values.Select(t => t.ArrayId).Distinct());
            _queueFailures = 0;
        }
        catch (InvalidOperationException e)
        {
            _console.WriteLine($"slurm  {e.Message}");
            if (++_queueFailures < QueueFailureLimit) return;
            foreach (var task in _submitted.Values.ToList()) Settle(task, 1, $"squeue failed {QueueFailureLimit} times in a row: {e.Message}");
            return;
        }
        var neverStart = new List<(SlurmTask Task, string Why)>();
        foreach (var task in _submitted.Values.ToList())
        {
            var queued = queue.GetValueOrDefault(task.SlurmId!);
            var state = queued?.State;
            if (state is not null && !EndStates.Contains(state))
            {
                task.EndedPolls = 0;
                if (state == "PENDING" && Pending(task, queued!.Reason) is { } why) neverStart.Add((task, why));
                else if (state != "PENDING") task.BlockedPolls = 0;
                continue;
            }
            if (_store.Find(task.Job.Key) is not null) { Settle(task, 0, null); continue; }
            // a shared filesystem can show a fresh entry a moment late: look once more before calling it lost
            if (++task.EndedPolls < 2) continue;
            var how = state is null ? "left the queue" : $"ended {state}";
            // a task killed at its memory limit is not submitted again: the same request runs out again
            var slurmSaid = CopySlurmOutput(task);
            var outOfMemory = state == "OUT_OF_MEMORY" || slurmSaid.Any(OutOfMemory().IsMatch);
            // a job process that ended on an error of its own (puzzle job's exit 1: an input refused, a feed that already
            // holds the version) would end the same way again; one killed or lost (no exit code logged, or a signal's) is
            // resubmitted: a time limit (it resumes from its checkpoint), a node that failed, a preemption; and so is one
            // that ended on a filesystem error that may pass (JobExit.PassingError: a stale handle, a mount that stopped answering)
            var exitCode = SlurmTaskScript.ExitCode(task.Log);
            var ownError = exitCode is > 0 and < 128 and not JobExit.PassingError;
            if (exitCode == JobExit.PassingError) how += $" with exit code {exitCode} (a filesystem error that may pass)";
            if (task.Attempts <= _slurm.Retries && !outOfMemory && !ownError)
            {
                _submitted.Remove(task.SlurmId!);
                Note(task, $"task {task.SlurmId} {how} without publishing; resubmitting (attempt {task.Attempts + 1} of {_slurm.Retries + 1})");
                _console.WriteLine($"slurm  {task.Job.Name}: task {task.SlurmId} {how} without publishing; resubmitting");
                _waiting.Add(task);
            }
            else
            {
                var exit = exitCode is { } code and not 0 ? code : 1;
                if (outOfMemory)
                {
                    var more = $"ask for more with --mem or --mem-per-cpu ({SlurmFields.Extra(Request(task.Job.Stage), "--mem")})";
                    _console.WriteLine($"slurm  {task.Job.Name}: task {task.SlurmId} ran out of the memory Slurm gave it; not resubmitted: {more}");
                    Settle(task, exit, $"task {task.SlurmId} {how}: it ran out of the memory Slurm gave it, and the same request would run out " +
                                       $"again, so it is not submitted again: {more}");
                }
                else if (ownError)
                    Settle(task, exit, $"task {task.SlurmId} {how} with exit code {exit}, an error of the job's own (above), which a " +
                                       "resubmission would repeat: not submitted again");
                else Settle(task, exit, $"task {task.SlurmId} {how} without publishing, after {task.Attempts} attempt{(task.Attempts == 1 ? "" : "s")}");
            }
        }
        if (neverStart.Count > 0)
        {
            var ids = neverStart.Select(n => n.Task.SlurmId!).ToList();
            try { _client.Cancel(ids); }
            catch (InvalidOperationException e) { _console.WriteLine($"slurm  could not cancel {string.Join(", ", ids)}: {e.Message}"); }
            foreach (var (task, why) in neverStart) Settle(task, 1, $"task {task.SlurmId} cancelled: Slurm would never start it as submitted: {why}");
        }
        if (_waiting.Count == 0) return;
        try { Flush(); }
        catch (InvalidOperationException e)
        {
            foreach (var task in _waiting.ToList()) Settle(task, 1, e.Message);
            _waiting.Clear();
        }
    }

    /// <summary>
    /// Looks at the logs of the tasks in play, each second, on the shared filesystem only (it costs Slurm's controller
    /// nothing). A log that has grown since its task's submission means the task started (<see cref="RunningFor"/>). A
    /// log that ends with the task script's <c>exit code 0</c> line, with its job's entry in the store, settles the task
    /// as done without waiting for the next look at the queue (a wave of short jobs would otherwise wait
    /// <c>poll_seconds</c> each). Failures are left to <see cref="Poll"/>, which knows how the task ended. The script
    /// writes that line after <c>puzzle job</c> has exited, so every entry the process builds (a lead job's companions)
    /// is published by then.
    /// </summary>
    void WatchLogs()
    {
        foreach (var task in _submitted.Values.ToList())
        {
            try
            {
                var length = new FileInfo(task.Log).Length;
                if (length == task.LogLength) continue;
                (task.LogLength, task.StartedUtc) = (length, task.StartedUtc ?? DateTime.UtcNow);
                if (SlurmTaskScript.FinalExit(task.Log) == 0 && _store.Find(task.Job.Key) is not null) Settle(task, 0, null);
            }
            catch (IOException) { } // a log the filesystem does not show yet: the queue's look settles it
        }
    }

    /// <summary>How long the job's current task has run on its node, from when its log first grew (to within a
    /// second); zero while it waits in the queue, or to be submitted again.</summary>
    public TimeSpan? RunningFor(JobPlan job)
    {
        lock (_gate)
        {
            return _tasks.TryGetValue(job, out var task) && task.SlurmId is { } id && _submitted.ContainsKey(id) && task.StartedUtc is { } started
                ? DateTime.UtcNow - started
                : TimeSpan.Zero;
        }
    }

    /// <summary>
    /// Reads why a task is pending. One that Slurm would never start as submitted (<see cref="PendingKind.NeverStarts"/>,
    /// for two looks in a row: the reason can change while the scheduler works) is to be cancelled and failed with the
    /// reason; what it means is said once per stage and reason. One that waits for the cluster's administrators is said
    /// once too, and waits on, as Slurm would have it.
    /// </summary>
    /// <returns>why the task is to be cancelled, or null</returns>
    string? Pending(SlurmTask task, string reason)
    {
        var (kind, why) = PendingReason.Read(reason, Request(task.Job.Stage), task.Threads);
        if (kind != PendingKind.NeverStarts) task.BlockedPolls = 0;
        if (kind == PendingKind.Waits || kind == PendingKind.NeverStarts && ++task.BlockedPolls < 2) return null;
        var code = PendingReason.Code(reason);
        var said = $"pending for {code}: {why}";
        if (_told.Add((task.Job.Stage.Name, code)))
            _console.WriteLine($"slurm  {task.Job.Stage.Name}: tasks {said}; " +
                               (kind == PendingKind.NeverStarts ? "Slurm would never start them as submitted: cancelled" : "the run waits for them (Ctrl-C ends it)"));
        return kind == PendingKind.NeverStarts ? said : null;
    }

    void Settle(SlurmTask task, int exit, string? note)
    {
        if (note is not null) Note(task, note);
        if (task.SlurmId is not null) _submitted.Remove(task.SlurmId);
        task.Done.TrySetResult(exit);
    }

    /// <summary>Slurm writes its own complaints (time limit, cancellation, node failure, memory) to the task's output
    /// file: keep them in the job's log. Returns the lines kept.</summary>
    List<string> CopySlurmOutput(SlurmTask task)
    {
        var output = Path.Combine(_runDirectory!, $"{task.SlurmId}.out");
        if (!File.Exists(output)) return [];
        var lines = File.ReadLines(output).Where(l => l.Length > 0).TakeLast(20).ToList();
        if (lines.Count > 0) File.AppendAllLines(task.Log, lines.Select(l => "slurm| " + l));
        return lines;
    }

    /// <summary>What slurmstepd writes when it kills a task for its memory: "Exceeded job memory limit" where the
    /// accounting plugin enforces it (the task then ends FAILED), "Detected 1 oom-kill event(s)" under cgroups (the
    /// task ends OUT_OF_MEMORY).</summary>
    [GeneratedRegex(@"slurmstepd.*(exceeded (job |step )?memory limit|oom[-_]kill event)", RegexOptions.IgnoreCase)]
    private static partial Regex OutOfMemory();

    static void Note(SlurmTask task, string text) => File.AppendAllText(task.Log, NotePrefix + text + "\n");
}
