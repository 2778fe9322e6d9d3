using Puzzle.Engine.Pipeline.Spec;

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

    /// <summary>The other jobs of <paramref name="job"/>'s block of <paramref name="layersPerProcess"/> consecutive layers
    /// (every layer when 0), for stages whose jobs are per layer (a "layer" in their config).</summary>
    protected static IEnumerable<JobPlan> SameLayerBlock(JobPlan job, IReadOnlyList<JobPlan> stageJobs, int layersPerProcess)
    {
        int Block(JobPlan j) => layersPerProcess == 0 ? 0 : (int)j.Config["layer"]! / layersPerProcess;
        return stageJobs.Where(j => j != job && Block(j) == Block(job));
    }

    /// <summary>Runs several of this stage's jobs in one go (<see cref="Companions"/>); by default one after another.</summary>
    public virtual void RunTogether(IReadOnlyList<JobContext> contexts)
    {
        foreach (var c in contexts) Run(c);
    }
}
