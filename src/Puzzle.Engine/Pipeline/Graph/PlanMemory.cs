using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// The memory that stages size their groups of jobs by (how many layers or models one process takes): memory knobs that
/// no key holds. The executor and each job's process read the same figures, so both agree on the groups.
/// </summary>
internal static class PlanMemory
{
    /// <summary>The GPU memory a process may plan for (the driver's figure for GPU 0, as CUDA_VISIBLE_DEVICES numbers it);
    /// null where there is none. Settable for tests.</summary>
    internal static Func<long?> GpuBytes { get; set; } = ResourcePeaks.GpuTotalBytes;

    /// <summary>The memory this machine's processes may use.</summary>
    internal static long HostBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
}
