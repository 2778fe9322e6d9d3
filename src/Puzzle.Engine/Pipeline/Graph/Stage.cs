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
    /// <summary>Where under <c>artifacts/&lt;pipeline&gt;/</c> a job's payload is published for people, if anywhere.</summary>
    public virtual string? ArtifactFolder(JobPlan job) => null;

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

    /// <summary>The other jobs of <paramref name="job"/>'s group of at most <paramref name="layersPerProcess"/> layers
    /// (every layer when 0; <see cref="LayerGroup"/>), for stages whose jobs are per layer (their record is an
    /// <see cref="ILayerJob"/>).</summary>
    protected static IEnumerable<JobPlan> SameLayerGroup(JobPlan job, IReadOnlyList<JobPlan> stageJobs, int layersPerProcess)
    {
        var layers = stageJobs.Max(j => j.ConfigAs<ILayerJob>().Layer) + 1;
        int Group(JobPlan j) => LayerGroup(j.ConfigAs<ILayerJob>().Layer, layers, layersPerProcess);
        return stageJobs.Where(j => j != job && Group(j) == Group(job));
    }

    /// <summary>
    /// The process group of a layer when <paramref name="layers"/> layers go to as few processes of at most
    /// <paramref name="layersPerProcess"/> layers as hold them (one group when 0), dealt back and forth (with two groups
    /// of four layers: 0 and 3, 1 and 2), so that every group has early and late layers. A variant scored at layer l
    /// runs the parent's layers after l to the head, so groups of consecutive layers left the first with most of the
    /// work: the default pipeline's Score of layers 0-1 took 28 s where 2-3 took 14 s.
    /// </summary>
    public static int LayerGroup(int layer, int layers, int layersPerProcess)
    {
        if (layersPerProcess == 0) return 0;
        var groups = (layers + layersPerProcess - 1) / layersPerProcess;
        var (round, position) = (layer / groups, layer % groups);
        return round % 2 == 0 ? position : groups - 1 - position;
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
