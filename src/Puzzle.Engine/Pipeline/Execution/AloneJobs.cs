using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// The jobs whose process runs alone on its device: those a stage plans to hold more than a job's share of the device's
/// memory (<see cref="Stage.PlannedMemory"/> against <see cref="PlanMemory.Share"/>), where the device is shared: a GPU
/// by more than one job (<c>executor.jobs_per_gpu</c>), this machine by more than one job that runs on it
/// (<paramref name="hostShared"/>). Each job's plan is asked once.
/// </summary>
internal sealed class AloneJobs(PipelineGraph graph, GpuSlots? gpus, bool hostShared)
{
    readonly Dictionary<JobPlan, (long Bytes, long Share)?> _known = new();

    /// <summary>The job's planned bytes and its share, where it runs alone; null where it shares its device.</summary>
    public (long Bytes, long Share)? Of(JobPlan job)
    {
        if (_known.TryGetValue(job, out var known)) return known;
        var device = job.Stage.ComputesOn(graph.Spec);
        var shared = device == DeviceKind.Cuda ? gpus?.PerGpu > 1 : device == DeviceKind.Cpu && hostShared;
        var share = shared ? PlanMemory.Share(graph.Spec) : null;
        var planned = share is null ? null : job.Stage.PlannedMemory([job, .. job.Stage.Companions(job, graph.Jobs[job.Stage.Name], graph.Spec)], graph.Spec);
        return _known[job] = planned > share ? (planned!.Value, share!.Value) : null;
    }

    /// <summary>Whether the job runs alone on this machine: nothing beside it.</summary>
    public bool OnHost(JobPlan job) => job.Stage.ComputesOn(graph.Spec) == DeviceKind.Cpu && Of(job) is not null;

    /// <summary>Why the job runs alone, for the console.</summary>
    public string Why(JobPlan job) => Of(job) is { } a
        ? $"about {StoreUsage.Human(a.Bytes)} planned, more than a job's share of {StoreUsage.Human(a.Share)}" : "";
}
