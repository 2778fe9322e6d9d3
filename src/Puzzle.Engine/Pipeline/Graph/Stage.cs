using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// A pipeline stage: plans its jobs from the spec and the upstream stages' jobs, and runs one job into a folder.
/// Bump <see cref="Version"/> whenever what a job produces changes for the same inputs.
/// </summary>
public abstract class Stage
{
    public abstract string Name { get; }
    public abstract int Version { get; }
    /// <summary>Stages whose jobs this stage's jobs may read.</summary>
    public abstract IReadOnlyList<string> Upstream { get; }
    public virtual string Description => Name;
    /// <summary>Jobs that must run with no other job beside them (timings), on all cores.</summary>
    public virtual bool Exclusive => false;
    /// <summary>The device this stage's jobs compute on (null: none, they never touch torch's devices). A job on CUDA
    /// takes one of the local executor's GPU slots (<c>executor.gpus</c>) while it runs.</summary>
    public virtual DeviceKind? ComputesOn(PipelineSpec spec) => null;
    /// <summary>Whether this stage's jobs use tensors at all. A job process of a stage that does not leaves libtorch
    /// unloaded (about half a second of its start); one that turns out to need it still loads it on first use.</summary>
    public virtual bool UsesTorch => true;
    /// <summary>Whether this stage's jobs compute on one thread (fetching, training the tokenizer, the report, packing):
    /// such a job gets one thread (on a cluster, one CPU) unless the spec gives its stage a count, and the jobs beside it
    /// share the other cores.</summary>
    public virtual bool SingleThreaded => false;
    /// <summary>What one process that builds <paramref name="group"/> (a job of this stage and its <see cref="Companions"/>)
    /// holds at the least on the device it computes on (<see cref="ComputesOn"/>), counted from shapes before it starts;
    /// null: nothing worth counting. Checked against the device's memory before a run starts.</summary>
    public virtual MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) => null;
    /// <summary>What one process that builds <paramref name="group"/> is estimated to hold at its peak on its device, as
    /// the stage sizes its groups by (<see cref="PlanMemory.Share"/>); null: not estimated. The local executor runs a
    /// process estimated above its share alone on its device.</summary>
    public virtual long? PlannedMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) => null;
    /// <summary>Where under <c>artifacts/&lt;pipeline&gt;/</c> a job's payload is published for people, if anywhere.</summary>
    public virtual string? ArtifactFolder(JobPlan job) => null;

    /// <summary>
    /// Why what a built job did outside the store is gone (a package no longer on its folder feed), so that it runs
    /// again; null when nothing of it lies outside the store, or all of it is still there.
    /// </summary>
    public virtual string? Lost(JobPlan job, Cache.CacheEntry entry) => null;

    /// <summary>Whether <paramref name="store"/> holds <paramref name="job"/> built, with nothing of it <see cref="Lost"/>.</summary>
    public static bool Built(JobPlan job, Cache.CacheStore store) => store.Find(job.Key) is { } entry && job.Stage.Lost(job, entry) is null;

    /// <summary>The jobs of this stage. <paramref name="planned"/> holds every upstream stage's jobs by stage name.</summary>
    public abstract IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned);

    /// <summary>Runs one job, writing its payload into <see cref="JobContext.OutputDirectory"/>.</summary>
    public abstract void Run(JobContext context);

    /// <summary>
    /// Jobs of this stage that are better built in the same process as <paramref name="job"/> (they share work, such as
    /// one pass of the parent). Each keeps its own key and cache entry; a job whose entry exists, or that another
    /// process is building, is left out. <paramref name="stageJobs"/> are all the stage's planned jobs. Default: none.
    /// </summary>
    public virtual IEnumerable<JobPlan> Companions(JobPlan job, IReadOnlyList<JobPlan> stageJobs, PipelineSpec spec) => [];

    /// <summary>
    /// The processes that build <paramref name="jobs"/> (this stage's), grouped as a job process groups them: each job not
    /// yet placed leads, with those of its <see cref="Companions"/> (found among <paramref name="stageJobs"/>, by default
    /// <paramref name="jobs"/>) that are in <paramref name="jobs"/>.
    /// </summary>
    public IEnumerable<IReadOnlyList<JobPlan>> Processes(IReadOnlyList<JobPlan> jobs, PipelineSpec spec, IReadOnlyList<JobPlan>? stageJobs = null)
    {
        var placed = new HashSet<JobPlan>();
        var among = jobs.ToHashSet();
        foreach (var job in jobs.Where(placed.Add))
            yield return [job, .. Companions(job, stageJobs ?? jobs, spec).Where(c => among.Contains(c) && placed.Add(c))];
    }

    /// <summary>The other jobs of <paramref name="job"/>'s block of <paramref name="layersPerProcess"/> consecutive layers
    /// (every layer when 0), for stages whose jobs are per layer (their record is an <see cref="ILayerJob"/>).</summary>
    protected static IEnumerable<JobPlan> SameLayerBlock(JobPlan job, IReadOnlyList<JobPlan> stageJobs, int layersPerProcess)
    {
        int Block(JobPlan j) => layersPerProcess == 0 ? 0 : j.ConfigAs<ILayerJob>().Layer / layersPerProcess;
        return stageJobs.Where(j => j != job && Block(j) == Block(job));
    }

    /// <summary>Ends a phase of jobs built together (<see cref="JobContext.PhaseDone"/>), logged once.</summary>
    protected static void Phase(IReadOnlyList<JobContext> contexts, string name)
    {
        foreach (var c in contexts) c.PhaseDone(name, log: c == contexts[0]);
    }

    /// <summary>Runs several of this stage's jobs in one go (<see cref="Companions"/>); by default one after another.</summary>
    public virtual void RunTogether(IReadOnlyList<JobContext> contexts)
    {
        foreach (var c in contexts) Run(c);
    }
}

/// <summary>
/// A stage whose jobs' configuration is a <typeparamref name="TJob"/> record: <see cref="Stage.Plan"/> builds one per
/// job (its canonical JSON is the key, <see cref="JobConfig"/>), and <see cref="Run(TJob, JobContext)"/> receives it with
/// the job's inputs: a stage reads nothing of the spec at run time, so nothing it reads can be missing from its key.
/// </summary>
public abstract class Stage<TJob> : Stage where TJob : class
{
    public sealed override void Run(JobContext context) => Run(context.Job.ConfigAs<TJob>(), context);

    /// <summary>Runs one job of this stage, writing its payload into <see cref="JobContext.OutputDirectory"/>.</summary>
    protected abstract void Run(TJob job, JobContext context);

    /// <summary>A job of this stage: <paramref name="config"/> is everything it reads besides its inputs.</summary>
    protected JobPlan Job(string id, TJob config, IReadOnlyDictionary<string, JobPlan>? inputs = null, long seed = 0) =>
        new(this, id, config, inputs ?? new Dictionary<string, JobPlan>(), seed);
}

/// <summary>A job record of a stage with one job per parent layer.</summary>
public interface ILayerJob
{
    int Layer { get; }
}
