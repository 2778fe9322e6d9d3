using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// The memory that stages size their groups of jobs by (how many layers or models one process takes) and check their
/// processes against: memory knobs that no key holds. The executor and each job's process read the same figures, so
/// both agree on the groups.
/// </summary>
internal static class PlanMemory
{
    /// <summary>The memory of a device of <paramref name="kind"/>: what this machine's processes may use, or the GPU's
    /// (the driver's figure for GPU 0, as CUDA_VISIBLE_DEVICES numbers it); null where there is none.</summary>
    internal static long? Of(DeviceKind kind) => Pretended.Value is { } pretend ? pretend(kind)
        : kind == DeviceKind.Cpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : ResourcePeaks.GpuTotalBytes();

    /// <summary>What one of <paramref name="spec"/>'s processes on its device may plan for: 90% of the device's memory,
    /// shared by the jobs that run on it at once (a GPU's by <c>executor.jobs_per_gpu</c>, this machine's by
    /// <c>executor.jobs</c>); null where the device's memory is not known.</summary>
    internal static long? Share(PipelineSpec spec) => Budget(spec.Device) is { } budget
        ? budget / Math.Max(1, spec.Device == DeviceKind.Cuda ? spec.Executor.JobsPerGpu : spec.Executor.Jobs)
        : null;

    /// <summary>What the processes on a device of <paramref name="kind"/> at once may plan for together: 90% of its
    /// memory; null where it is not known.</summary>
    internal static long? Budget(DeviceKind kind) => Of(kind) is { } total ? (long)(0.9 * total) : null;

    static readonly AsyncLocal<Func<DeviceKind, long?>?> Pretended = new();

    /// <summary>For tests: <see cref="Of"/> answers <paramref name="memory"/> in this async flow (and the jobs it runs in
    /// process) until disposed; tests beside it see the real figures.</summary>
    internal static IDisposable Pretend(Func<DeviceKind, long?> memory)
    {
        var before = Pretended.Value;
        Pretended.Value = memory;
        return new Restore(() => Pretended.Value = before);
    }

    sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}
