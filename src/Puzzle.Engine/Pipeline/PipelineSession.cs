using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Execution.Slurm;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline;

/// <summary>
/// One pipeline spec opened against a store: the planned graph, its status, and running it. Every front end
/// (CLI, Cake, MSBuild, Slurm tasks) goes through this.
/// </summary>
public sealed class PipelineSession
{
    PipelineSession(PipelineSpec spec, PipelineGraph graph, CacheStore store)
    {
        Spec = spec;
        Graph = graph;
        Store = store;
        History = new JobHistory(store.Root, spec.Name);
        _parentParameters = new(() => Cost.CostMeter.Parameters(ParentStage.PlannedConfig(spec)));
    }

    /// <summary>The parent's size, read once (not from its config.json at every job launch).</summary>
    readonly Lazy<long> _parentParameters;

    public PipelineSpec Spec { get; }
    public PipelineGraph Graph { get; }
    public CacheStore Store { get; }
    public JobHistory History { get; }

    /// <summary>
    /// The store defaults to <c>.puzzle/</c> under the spec's base folder (the repository root), or, when the executor
    /// is Slurm, to <c>executor.slurm.store</c> where the spec names one.
    /// </summary>
    public static string DefaultStore(PipelineSpec spec) =>
        spec.Executor is { Kind: ExecutorKind.Slurm, Slurm.Store: { } shared }
            ? Path.GetFullPath(Path.Combine(spec.BaseDirectory, shared))
            : Path.Combine(spec.BaseDirectory, ".puzzle");

    public static PipelineSession Open(string specPath, string? storeRoot = null, IReadOnlyList<Stage>? stages = null)
    {
        var spec = SpecLoader.Load(specPath);
        return Open(spec, storeRoot, stages);
    }

    public static PipelineSession Open(PipelineSpec spec, string? storeRoot = null, IReadOnlyList<Stage>? stages = null) =>
        new(spec, PipelineGraph.Plan(spec, stages ?? PuzzleStages.All()), new CacheStore(storeRoot ?? DefaultStore(spec)));

    public IReadOnlyList<JobStatus> Status(string? target = null) => PipelineStatus.Of(Graph, Store, History, target);

    /// <summary>
    /// What <see cref="RunAsync"/> with <paramref name="rerun"/> would find: <see cref="Status(string?)"/>, with each cached
    /// job that the rerun builds again (<see cref="PipelineGraph.Rerun"/>) stale, naming the stages given. A stage that is
    /// not there, or that the target builds no job of, is the same error the run gives.
    /// </summary>
    public IReadOnlyList<JobStatus> Status(string? target, IReadOnlyCollection<string>? rerun) => Rerun(Status(target), target, rerun);

    /// <summary><paramref name="status"/> as a run of <paramref name="target"/> with <paramref name="rerun"/> would find it
    /// (see <see cref="Status(string?, IReadOnlyCollection{string}?)"/>).</summary>
    public IReadOnlyList<JobStatus> Rerun(IReadOnlyList<JobStatus> status, string? target, IReadOnlyCollection<string>? rerun)
    {
        if (rerun is not { Count: > 0 }) return status;
        var again = Graph.Rerun(rerun, target).Select(j => (j.Stage.Name, j.Id)).ToHashSet();
        var named = string.Join(", ", rerun.Select(s => Graph.StageNamed(s).Name).Distinct());
        return status.Select(s => s.State == JobState.Cached && again.Contains((s.Stage, s.Job))
            ? s with { State = JobState.Stale, Reason = $"--rerun {named}: runs again although cached" } : s).ToList();
    }

    /// <param name="jobs">parallel jobs (default: the spec's executor.jobs)</param>
    /// <param name="threadsPerJob">torch threads per job (default: the spec's, else the cores divided between the jobs); a single-threaded stage's jobs take one</param>
    /// <param name="rerun">stages whose jobs run again although cached, with every job after them in the target (<see cref="PipelineGraph.Rerun"/>:
    /// the entries of those after them outside the target go too, and are built when a run needs them): a Measure job,
    /// say, whose timings were taken while the machine was busy, or on another machine</param>
    public async Task<RunSummary> RunAsync(string? target, IJobLauncher launcher, TextWriter? console = null, CancellationToken cancel = default,
        int? jobs = null, int? threadsPerJob = null, IReadOnlyCollection<string>? rerun = null)
    {
        var again = rerun is { Count: > 0 } ? Graph.Rerun(rerun, target) : [];
        // built jobs whose work outside the store is gone (a package no longer on its folder feed) run again
        var lost = Graph.JobsFor(target).Select(j => (Job: j, Why: Store.Find(j.Key) is { } e ? j.Stage.Lost(j, e) : null))
            .Where(l => l.Why is not null && !again.Contains(l.Job)).ToList();
        // everything knowable before a job starts is checked first: one error, nothing started, no log touched
        if (launcher is not SlurmJobLauncher)
            PreLaunchChecks.Run(Spec, Graph.JobsFor(target).Where(j => again.Contains(j) || Store.Find(j.Key) is null || lost.Any(l => l.Job == j)).ToList());
        Store.EnsureWritable();
        if (NameTakenBy() is { } other)
            console?.WriteLine($"warning: {Path.GetRelativePath(Spec.BaseDirectory, Path.GetFullPath(Spec.SourcePath))} and {other} are both named '{Spec.Name}': they share artifacts/{Spec.Name}/ and this store's " +
                               "logs and run records under that name, each run's overwriting the other's; give each pipeline its own name");
        if (again.Count > 0) Retire(again, rerun!, console);
        foreach (var (job, why) in lost)
        {
            // another run holding the key is pushing it again itself: this one finds it built, or waits for it
            using var held = Store.TryLock(job.Key);
            if (held is not null && Store.RetireHeld(job.Key)) console?.WriteLine($"again  {job.Name}: {why}");
        }
        Store.CleanStaging(TimeSpan.FromHours(1));
        // on Slurm every ready job is submitted at once (the array throttle limits how many run), each asking for
        // threads_per_job CPUs; locally the jobs share this machine's cores
        var (parallel, threads) = launcher is SlurmJobLauncher
            ? (int.MaxValue, threadsPerJob ?? Spec.Executor.ThreadsPerJob ?? 1)
            : (jobs ?? Spec.Executor.Jobs, threadsPerJob ?? Spec.Executor.ThreadsPerJob);
        // GPU jobs executor.jobs_per_gpu per GPU; where no GPU is seen they are not held back (they fail with the CUDA error instead)
        var gpus = launcher is SlurmJobLauncher ? null : GpuSlots.Visible(Spec.Executor.Gpus, Spec.Executor.JobsPerGpu);
        // on Slurm a stage's entry in executor.slurm.stages may give its tasks their own CPUs, unless --threads-per-job fixes every job's
        Func<Stage, int?>? stageThreads = launcher is SlurmJobLauncher && threadsPerJob is null ? stage => Spec.Executor.Slurm.For(stage.Name)?.ThreadsPerJob : null;
        var executor = new LocalExecutor(Store, History, launcher, parallel, threads, console, gpus is { Free: > 0 } ? gpus : null, stageThreads: stageThreads);
        var summary = await executor.RunAsync(Graph, target, cancel);
        foreach (var folder in Artifacts.Publish(Spec.BaseDirectory, Spec.Name, Graph.JobsFor(target), Store))
            console?.WriteLine($"artifacts: {Path.GetRelativePath(Spec.BaseDirectory, folder)}");
        return summary;
    }

    /// <summary>
    /// Removes what <see cref="RunAsync"/> with <paramref name="stages"/> as its rerun removes before it runs (the cached
    /// entries of those stages' jobs in <paramref name="target"/>, of every job after them, and of entries built on them
    /// under other keys), and runs nothing: the next build, by any front end, runs them again (<c>puzzle forget</c>,
    /// MSBuild's <c>PuzzleRerun</c>).
    /// </summary>
    /// <exception cref="ArgumentException">a stage that is not there, or that the target builds no job of</exception>
    /// <exception cref="InvalidOperationException">another run holds one of the entries</exception>
    public void Forget(IReadOnlyCollection<string> stages, string? target, TextWriter? console) => Retire(Graph.Rerun(stages, target), stages, console);

    /// <summary>The other spec file beside this one that ran last under this pipeline's name in this store, if it is
    /// still there (recorded in <c>STORE/runs/NAME/spec</c>, which this run then claims). Specs elsewhere, as other
    /// clones sharing a store, are not compared: their artifacts are their own.</summary>
    string? NameTakenBy()
    {
        if (Spec.SourcePath.Length == 0) return null;
        var mine = Path.GetFullPath(Spec.SourcePath);
        var claim = Path.Combine(Store.Root, "runs", Spec.Name, "spec");
        string? other = null;
        try { other = File.Exists(claim) ? File.ReadAllText(claim).Trim() : null; }
        catch (IOException) { } // another run writing it
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(claim)!);
            AtomicFile.WriteAllText(claim, mine + "\n");
        }
        catch (IOException) { }
        return other is { Length: > 0 } && other != mine && File.Exists(other) && Path.GetDirectoryName(other) == Path.GetDirectoryName(mine)
            ? Path.GetRelativePath(Spec.BaseDirectory, other) : null;
    }

    /// <summary>
    /// Removes the entries of <paramref name="again"/> and every entry of this store built on them under other keys (by
    /// other pipelines, or by this one before its spec changed: a Search under other constraints, say), readers before
    /// what they read, so that a run stopped half-way (a key in use elsewhere) leaves no reader of a removed entry.
    /// </summary>
    void Retire(IReadOnlyList<JobPlan> again, IReadOnlyCollection<string> stages, TextWriter? console)
    {
        var planned = again.Select(j => j.Key).ToHashSet(StringComparer.Ordinal);
        var others = Store.ReadersOf(planned).Where(m => !planned.Contains(m.Key)).ToList();
        var otherRetired = others.Where(m => Store.Retire(m.Key)).ToList();
        var retired = again.Reverse().Where(j => Store.Retire(j.Key)).ToList();
        static string Entries(int n) => $"{n} cached entr{(n == 1 ? "y" : "ies")}";
        console?.WriteLine($"rerun {string.Join(", ", stages.Select(s => Graph.StageNamed(s).Name).Distinct())}: {Entries(retired.Count)} removed " +
                           $"({string.Join(", ", again.Where(retired.Contains).Select(j => j.Stage.Name).Distinct())})" +
                           (otherRetired.Count > 0
                               ? $", and {Entries(otherRetired.Count)} built on them under other keys ({string.Join(", ", otherRetired.AsEnumerable().Reverse().Select(m => m.Stage).Distinct())})"
                               : ""));
    }

    /// <summary>Runs one job in this process (what a launched job process does); checks the key it was launched for.</summary>
    public (CacheEntry Entry, bool Ran) RunJob(string stage, string id, string? expectedKey, int threads, TextWriter log)
    {
        var job = Graph.Find(stage, id);
        if (expectedKey is not null && expectedKey != job.Key)
            throw new InvalidOperationException($"{job.Name}: the spec now plans key {job.Key[..12]}, not {expectedKey[..Math.Min(12, expectedKey.Length)]}: the spec changed during the run");
        if (Store.Find(job.Key) is null) Store.EnsureWritable(); // a job MSBuild starts has had no run's check
        return JobRunner.Run(job, Spec, Store, History, log, threads, stageJobs: Graph.Jobs[stage]);
    }

    public InProcessJobLauncher InProcessLauncher() => new(Spec, Store, History, Graph);

    /// <summary>Runs jobs as Slurm array tasks (<c>executor.slurm</c>); <paramref name="command"/> starts the CLI on a node.</summary>
    /// <param name="jobArguments">arguments every task's <c>puzzle job</c> gets (e.g. <c>--device cuda</c>)</param>
    public SlurmJobLauncher SlurmLauncher(IReadOnlyList<string> command, TextWriter? console = null, IReadOnlyList<string>? jobArguments = null) =>
        new(Spec.Executor.Slurm, command, Spec.SourcePath, Spec.BaseDirectory, Store, Spec.Name, console, jobArguments, SlurmGres, JobEnvironment);

    /// <summary>What a stage's job processes get in their environment besides the launcher's: huge pages for a real-size
    /// parent's tensors (<see cref="HugePages"/>), unless this process's environment sets them; nothing for a timing
    /// stage, which times in the environment the costs were studied in.</summary>
    public IReadOnlyDictionary<string, string> JobEnvironment(Stage stage) =>
        HugePages.JobEnvironment(_parentParameters.Value, Environment.GetEnvironmentVariable(HugePages.Variable), timing: stage.Exclusive);

    /// <summary>What the stage's Slurm tasks ask for with --gres (<see cref="SlurmJobLauncher.GresFor"/>) where the stage's
    /// entry of executor.slurm.stages sets none.</summary>
    public string? SlurmGres(Stage stage) => SlurmJobLauncher.GresFor(Spec.Executor.Slurm,
        Graph.Jobs.Values.SelectMany(jobs => jobs).Any(j => j.Stage.ComputesOn(Spec) == DeviceKind.Cuda), stage.ComputesOn(Spec));
}
