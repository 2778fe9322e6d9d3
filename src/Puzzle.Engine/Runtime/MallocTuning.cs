using System.Runtime.InteropServices;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// Keeps glibc's malloc from handing tensor memory back to the kernel between steps. By default glibc serves an
/// allocation above a threshold that adapts to what the process freed before by a fresh mmap, and trims the heap's
/// free top, so a tensor's pages are faulted in again on every step, and how often depends on what ran before in the
/// process. On this 2-core CPU that made the same parent's prefill 55 ms when it was timed after small models and
/// 40 ms after large ones (benchmarks/results/cost-drift.json), and a cost measured in one job disagree with the
/// same model timed in another. A fixed mmap threshold at glibc's maximum (32 MiB) and no trimming make a step
/// reuse the pages the previous step freed, as PyTorch's CUDA caching allocator does on a GPU. The price is a
/// resident size that stays at the job's peak, which the manifest records anyway. Set <c>PUZZLE_MALLOC=default</c>
/// to keep glibc's behaviour. Other C libraries (musl) and other systems are left alone.
/// </summary>
public static class MallocTuning
{
    const int TrimThreshold = -1, MmapThreshold = -3; // glibc's M_TRIM_THRESHOLD and M_MMAP_THRESHOLD

    /// <summary>glibc's largest mmap threshold on 64-bit systems (HEAP_MAX_SIZE / 2); larger values are refused.</summary>
    public const int MmapThresholdBytes = 32 << 20;

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int Mallopt(int param, int value);

    /// <summary>Whether the process's malloc was tuned (once, at the Engine's load).</summary>
    public static bool Applied { get; private set; }

    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("PUZZLE_MALLOC") == "default") return;
        try { Applied = Mallopt(MmapThreshold, MmapThresholdBytes) == 1 && Mallopt(TrimThreshold, int.MaxValue) == 1; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { /* not glibc */ }
    }
}
