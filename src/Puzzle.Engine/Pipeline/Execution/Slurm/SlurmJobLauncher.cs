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
/// log (a job that ended on an error of its own, one it would meet again, is not; one that ended on a filesystem error
/// that may pass, <see cref="JobExit.PassingError"/>, is); one that Slurm killed at its memory limit is not resubmitted
/// (the same request would run out again), and fails saying so. A task pending for a reason Slurm gives when it would never start the task as submitted (a time limit
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
}
