using System.Diagnostics;
using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>
/// Runs the executor's jobs on a Slurm cluster. The jobs launched in one wave are submitted on <see cref="Flush"/> as
/// one job array per stage (<c>sbatch --array=0-N%throttle</c>); each task runs <c>puzzle job</c> into the shared store.
/// One <c>squeue</c> call per poll follows every array; a task that has left the queue (or ended) is done when its job's
/// entry is in the store, and otherwise resubmitted, up to <c>retries</c> times, before it is reported failed with its
/// log; one that Slurm killed at its memory limit is not resubmitted (the same request would run out again), and fails
/// saying so. A task pending for a reason Slurm gives when it would never start the task as submitted (a time limit
/// above the partition's, more GPUs than a QOS allows a job: <see cref="PendingReason"/>) is cancelled and fails with
/// that reason and the spec field behind it, rather than keep the run waiting. Cancelling the run cancels its arrays
/// with <c>scancel</c>.
/// </summary>
public sealed partial class SlurmJobLauncher : IJobLauncher, IDisposable
{
    /// <summary>Lines the launcher adds to a job's log (the task script's own lines start with "== " too).</summary>
    public const string NotePrefix = "== puzzle: ";

    /// <summary>Slurm's default MaxArraySize is 1001: a larger wave goes in several arrays.</summary>
    public const int MaxArrayTasks = 1000;

    /// <summary>States of a task that will not run again; any other state (PENDING, RUNNING, COMPLETING, ...) is still in play.</summary>
    static readonly HashSet<string> EndStates =
        ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "SPECIAL_EXIT", "REVOKED"];

    /// <summary>squeue failures in a row after which the run gives up on its tasks.</summary>
    const int QueueFailureLimit = 10;

    readonly SlurmSpec _slurm;
    readonly Func<Stage, string?> _gres;
    readonly IReadOnlyList<string> _command;
    readonly IReadOnlyList<string> _jobArguments;
    readonly Func<Stage, IReadOnlyDictionary<string, string>> _environment;
    readonly string _specPath;
    readonly string _baseDirectory;
    readonly CacheStore _store;
    readonly string _pipeline;
    readonly TextWriter _console;
    readonly SlurmClient _client = new();
    readonly object _gate = new();
    readonly List<SlurmTask> _waiting = [];                 // launched or failed, to be submitted
    readonly Dictionary<string, SlurmTask> _submitted = []; // by Slurm task id ARRAY_INDEX
    readonly Dictionary<JobPlan, SlurmTask> _tasks = [];    // every job launched, by job
    readonly List<CancellationTokenRegistration> _registrations = [];
    readonly HashSet<(string Stage, string Reason)> _told = []; // pending reasons said on the console
    readonly CancellationTokenSource _stop = new();
    string? _runDirectory;
    string? _script;
    int _arrays;
    int _queueFailures;
    bool _cancelled;
    Task? _poller;

    /// <param name="gres">what a stage's tasks ask for with --gres where its entry of executor.slurm.stages sets none (see
    /// <see cref="GresFor"/>); default: executor.slurm.gres for every stage</param>
    public SlurmJobLauncher(SlurmSpec slurm, IReadOnlyList<string> command, string specPath, string baseDirectory, CacheStore store,
        string pipeline, TextWriter? console = null, IReadOnlyList<string>? jobArguments = null, Func<Stage, string?>? gres = null,
        Func<Stage, IReadOnlyDictionary<string, string>>? environment = null)
    {
        SlurmClient.RequireOnPath();
        _jobArguments = jobArguments ?? [];
        _environment = environment ?? (_ => new Dictionary<string, string>());
        _gres = gres ?? (_ => slurm.Gres);
        (_slurm, _command, _specPath, _baseDirectory, _store, _pipeline) = (slurm, command, Path.GetFullPath(specPath), baseDirectory, store, pipeline);
        _console = TextWriter.Synchronized(console ?? TextWriter.Null);
    }

    /// <summary>Where this run's batch script, task lists and Slurm's own task output go: <c>STORE/slurm/PIPELINE/RUN/</c>.</summary>
    public string? RunDirectory => _runDirectory;

    /// <summary>
    /// What a stage's tasks ask for with --gres. In a pipeline with stages on a GPU, each task of such a stage asks for
    /// executor.slurm.gres (default gpu:1: one GPU per job, as the local executor runs them), and a task on the CPU
    /// (Fetch, Data, Report, Pack, ...) for nothing, so that it holds no GPU. In a pipeline on the CPU every task asks
    /// for executor.slurm.gres, if set. A stage's entry of executor.slurm.stages that sets gres comes before all of this
    /// (<see cref="SlurmRequest.Gres"/>).
    /// </summary>
    public static string? GresFor(SlurmSpec slurm, bool pipelineUsesGpu, DeviceKind? stageDevice) =>
        !pipelineUsesGpu ? slurm.Gres : stageDevice == DeviceKind.Cuda ? slurm.Gres ?? "gpu:1" : null;

    /// <remarks>Slurm places GPU jobs itself (<see cref="GresFor"/>): <paramref name="gpu"/> is not used.</remarks>
    public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
    {
        lock (_gate)
        {
            if (cancel.IsCancellationRequested || _cancelled) return Task.FromCanceled<int>(cancel.IsCancellationRequested ? cancel : new CancellationToken(true));
            _runDirectory ??= Path.Combine(_store.Root, "slurm", _pipeline, runId);
            _script ??= WriteScript(runId);
            Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
            File.WriteAllText(logPath, "");
            var task = new SlurmTask(job, logPath, threads);
            _waiting.Add(task);
            _tasks[job] = task;
            // registered after the task is queued: a token cancelled meanwhile runs Cancel right here, which cancels it too
            if (cancel.CanBeCanceled) _registrations.Add(cancel.Register(Cancel));
            return task.Done.Task;
        }
    }

    /// <summary>The jobs run on the cluster's nodes: none shares this machine's memory.</summary>
    public bool OnThisMachine => false;

    /// <summary>Submits the jobs launched since the last call, one array per stage; a refused submission is an error naming the spec field.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            if (_cancelled || _waiting.Count == 0) return;
            _poller ??= Task.Run(PollAsync);
            var waves = _waiting.GroupBy(t => (t.Job.Stage, t.Threads)).SelectMany(g => g.Chunk(MaxArrayTasks)).ToList();
            foreach (var tasks in waves)
            {
                Submit(tasks);
                _waiting.RemoveAll(tasks.Contains);
            }
        }
    }

    /// <summary>Cancels every array of this run that still has tasks (what Ctrl-C does).</summary>
    public void Cancel()
    {
        lock (_gate)
        {
            if (_cancelled) return;
            _cancelled = true;
            _stop.Cancel();
            var arrays = _submitted.Values.Select(t => t.ArrayId).Distinct().ToList();
            if (arrays.Count > 0)
            {
                try
                {
                    _client.Cancel(arrays);
                    _console.WriteLine($"slurm  cancelled array{(arrays.Count == 1 ? "" : "s")} {string.Join(", ", arrays)}");
                }
                catch (InvalidOperationException e) { _console.WriteLine($"slurm  could not cancel {string.Join(", ", arrays)}: {e.Message}"); }
            }
            foreach (var task in _submitted.Values.Concat(_waiting)) task.Done.TrySetCanceled();
            _submitted.Clear();
            _waiting.Clear();
        }
    }

    public void Dispose()
    {
        bool outstanding;
        lock (_gate) outstanding = _submitted.Count > 0 || _waiting.Count > 0;
        if (outstanding) Cancel();
        _stop.Cancel();
        try { _poller?.Wait(TimeSpan.FromSeconds(30)); } catch (AggregateException) { }
        foreach (var r in _registrations) r.Dispose();
        // the jobs' logs hold what matters; keep the submission files only while Slurm may still be writing into them
        if (!outstanding && _runDirectory is not null && Directory.Exists(_runDirectory))
            try { Directory.Delete(_runDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        _stop.Dispose();
    }

    /// <summary>sbatch's option that gives a stage's tasks <paramref name="environment"/> besides the submitting
    /// environment, or null for none.</summary>
    internal static string? Export(IReadOnlyDictionary<string, string> environment)
    {
        if (environment.Count == 0) return null;
        if (environment.Any(e => e.Key.Contains('=') || e.Value.Contains(',') || e.Key.Contains(',')))
            throw new ArgumentException($"sbatch --export cannot pass {string.Join(", ", environment.Keys)}: a name with '=' or ',', or a value with ','");
        return "--export=ALL," + string.Join(",", environment.Select(e => $"{e.Key}={e.Value}"));
    }

    string WriteScript(string runId)
    {
        Directory.CreateDirectory(_runDirectory!);
        var path = Path.Combine(_runDirectory!, "task.sh");
        File.WriteAllText(path, SlurmTaskScript.Text(_command, _specPath, _store.Root, runId, _jobArguments));
        return path;
    }

    /// <summary>What <paramref name="stage"/>'s tasks ask Slurm for.</summary>
    SlurmRequest Request(Stage stage) => new(_slurm, stage.Name, _gres(stage));

    void Submit(SlurmTask[] tasks)
    {
        var stage = tasks[0].Job.Stage;
        var request = Request(stage);
        var list = Path.Combine(_runDirectory!, $"{++_arrays:D4}-{stage.Name}.tasks");
        File.WriteAllText(list, SlurmTaskScript.TaskList(tasks.Select(t => (stage.Name, t.Job.Id, t.Job.Key, t.Log))));
        var arguments = new List<string>
        {
            $"--array=0-{tasks.Length - 1}%{_slurm.ArrayThrottle}", $"--job-name=puzzle-{_pipeline}-{stage.Name}",
            $"--output={Path.Combine(_runDirectory!, "%A_%a.out")}", $"--chdir={_baseDirectory}",
            $"--time={request.Time}", $"--cpus-per-task={tasks[0].Threads}",
        };
        if (request.Partition is { } partition) arguments.Add($"--partition={partition}");
        if (request.Gres is { } gres) arguments.Add($"--gres={gres}");
        if (stage.Exclusive) arguments.Add("--exclusive"); // timings: nothing else on the node
        if (Export(_environment(stage)) is { } export) arguments.Add(export);
        arguments.AddRange(request.Extra);
        arguments.Add(_script!);
        arguments.Add(list);
        string array;
        try { array = _client.Submit(arguments); }
        catch (SlurmException e)
        {
            throw new InvalidOperationException($"Slurm refused the {stage.Name} array ({tasks.Length} job{(tasks.Length == 1 ? "" : "s")}): {e.Message}{SubmissionHint.For(e.Message, request, tasks[0].Threads)}");
        }
        for (var i = 0; i < tasks.Length; i++)
        {
            var task = tasks[i];
            (task.ArrayId, task.SlurmId, task.EndedPolls, task.BlockedPolls) = (array, $"{array}_{i}", 0, 0);
            // the attempt starts when its log grows past what is there now (an earlier attempt's, the launcher's notes)
            (task.LogLength, task.StartedUtc) = (File.Exists(task.Log) ? new FileInfo(task.Log).Length : 0, null);
            task.Attempts++;
            _submitted[task.SlurmId] = task;
        }
        _console.WriteLine($"slurm  {stage.Name}: {tasks.Length} job{(tasks.Length == 1 ? "" : "s")} as array {array} (at most {_slurm.ArrayThrottle} at once)");
    }

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
            // resubmitted: a time limit (it resumes from its checkpoint), a node that failed, a preemption
            var ownError = SlurmTaskScript.ExitCode(task.Log) is > 0 and < 128;
            if (task.Attempts <= _slurm.Retries && !outOfMemory && !ownError)
            {
                _submitted.Remove(task.SlurmId!);
                Note(task, $"task {task.SlurmId} {how} without publishing; resubmitting (attempt {task.Attempts + 1} of {_slurm.Retries + 1})");
                _console.WriteLine($"slurm  {task.Job.Name}: task {task.SlurmId} {how} without publishing; resubmitting");
                _waiting.Add(task);
            }
            else
            {
                var exit = SlurmTaskScript.ExitCode(task.Log) is { } code and not 0 ? code : 1;
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
