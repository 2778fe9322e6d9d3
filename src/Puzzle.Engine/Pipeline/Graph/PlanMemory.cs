using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// The memory that stages size their groups of jobs by (how many layers or models one process takes) and check their
/// processes against: memory knobs that no key holds. The executor and each job's process read the same figures, so
/// both agree on the groups.
/// </summary>
internal static class PlanMemory
{
    /// <summary>The GPU memory a process may plan for (the driver's figure for GPU 0, as CUDA_VISIBLE_DEVICES numbers it);
    /// null where there is none. Settable for tests.</summary>
    internal static Func<long?> GpuBytes { get; set; } = ResourcePeaks.GpuTotalBytes;

    /// <summary>The memory this machine's processes may use.</summary>
    internal static long HostBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>The memory of a device of <paramref name="kind"/>: the host's or the GPU's; null where not known.</summary>
    internal static long? Of(DeviceKind kind) => Pretended.Value is { } pretend ? pretend(kind) : kind == DeviceKind.Cpu ? HostBytes : GpuBytes();

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
