#nullable enable
// Part of the front-end contract: compiled into Puzzle.Tasks and #loaded by build/puzzle.cake, so base library only
// (planning one is in GraphDocument.Plan.cs); a Cake script cannot declare a namespace, hence the #if.
#if !CAKE
namespace Puzzle.Engine.Pipeline.Graph;
#endif

/// <summary>
/// What <c>puzzle graph PIPELINE --json [--target STAGE]</c> prints, and what the Cake and MSBuild front ends build their
/// tasks from. Without a target it holds every stage and job; with one, only the jobs the target needs (and the stages
/// that hold them, with the target's own), so a front end never works out a closure itself.
/// </summary>
/// <param name="Spec">the spec file's full path</param>
/// <param name="Store">the cache store's root</param>
/// <param name="Stages">in dependency order</param>
public sealed partial record GraphDocument(string Pipeline, string Spec, string Store, string? Target, IReadOnlyList<GraphDocument.StageEntry> Stages)
{
    /// <param name="Upstream">the stages this one reads, by name (whether or not the document lists them)</param>
    /// <param name="SingleThreaded">whether its jobs compute on one thread (fetching, the tokenizer, the report, packing): a
    /// front end gives such a job one thread and the jobs beside it the other cores (<see cref="ThreadShare"/>)</param>
    /// <param name="Exclusive">whether its jobs time (Measure, Search, Speed): a front end runs such a job with no other
    /// beside it, on every core</param>
    /// <param name="Gpu">whether its jobs compute on a GPU (the spec's <c>device: cuda</c>, or a scenario timed on one): a
    /// front end gives each such job its own (its <c>CUDA_VISIBLE_DEVICES</c>)</param>
    /// <param name="Jobs">by <see cref="JobEntry.Order"/></param>
    /// <param name="DeviceMemory">what the processes on the device its jobs compute on may plan for together (90% of this
    /// machine's memory, or of the first GPU's as the driver reports it), where one of its jobs has
    /// <see cref="JobEntry.PlannedMemory"/>: a front end that runs <c>n</c> processes on that device at once runs a job
    /// planned above <c>DeviceMemory / n</c> with nothing beside it there, as the local executor does; null where no job
    /// plans or the device's memory is not known</param>
    public sealed record StageEntry(string Name, string Description, IReadOnlyList<string> Upstream, bool SingleThreaded, bool Exclusive,
        bool Gpu, IReadOnlyList<JobEntry> Jobs, long? DeviceMemory = null);

    /// <param name="Order">
    /// the job's place (0, 1, ...) in the order the executor walks the target's jobs: every input comes before its readers
    /// </param>
    /// <param name="Wave">0 for a job without inputs, else one more than its deepest input: a wave's jobs can run side by side</param>
    /// <param name="Inputs">the upstream jobs by the name this job knows them under, each as STAGE/ID</param>
    /// <param name="Lead">
    /// the job of the same stage and wave whose process builds this one as well (one process trains a block of layers'
    /// variants from one pass of the parent), or null when this job runs in its own process: among the jobs the store
    /// lacks, grouped as the executor groups them. A front end starts the leads of a wave first; their companions are
    /// then found in the store.
    /// </param>
    /// <param name="PlannedMemory">the bytes the stage plans its process to hold (this job's, with the companions it builds),
    /// for a job the store lacks that runs in its own process (no <see cref="Lead"/>); null there and where the stage plans
    /// none</param>
    /// <param name="Built">whether the store holds the job's entry: a front end that keeps its own up-to-date marks (MSBuild)
    /// runs a job the store lacks whatever they say (another store, or entries removed since)</param>
    public sealed record JobEntry(string Id, string Key, int Order, int Wave, IReadOnlyDictionary<string, string> Inputs, string? Lead,
        long? PlannedMemory = null, bool Built = false);

    /// <summary>Every job with its stage, by <see cref="JobEntry.Order"/>.</summary>
    public IEnumerable<(StageEntry Stage, JobEntry Job)> InOrder() =>
        Stages.SelectMany(s => s.Jobs.Select(j => (Stage: s, Job: j))).OrderBy(p => p.Job.Order);

    /// <summary>The torch threads of a job that runs beside others: one for each of the <paramref name="single"/>
    /// single-threaded jobs among them (<see cref="StageEntry.SingleThreaded"/>), the other cores divided evenly among the
    /// <paramref name="others"/> (itself included), and at least one.</summary>
    public static int ThreadShare(int cores, int single, int others) => Math.Max(1, (cores - single) / Math.Max(1, others));

    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this, PuzzleJson.Options);

    /// <param name="source">where the JSON came from, for the error when it is not a graph document</param>
    public static GraphDocument Parse(string json, string source = "puzzle graph --json") => PuzzleJson.Read<GraphDocument>(json, source);
}
#nullable restore
