namespace Puzzle.Engine.Runtime;

/// <summary>
/// Transparent huge pages for libtorch's CPU tensors of 2 MB and more: with <c>THP_MEM_ALLOC_ENABLE=1</c> libtorch aligns
/// them to 2 MB and asks the kernel for huge pages, so a fresh tensor is faulted in one 2 MB page at a time instead of 512
/// pages of 4 KB. libtorch reads the variable once, at a process's first allocation, so it goes into each job process's
/// environment (<see cref="Pipeline.PipelineSession.JobEnvironment"/>: a local job process's, a Slurm array's through
/// <c>sbatch --export</c>). Measured on this project's
/// 2-core CPU (2026-12-01): reading a 1B-wide checkpoint as stored 0.26 → 4.71 GB/s and into a float32 model 0.094 →
/// 0.54 GB/s (<c>Puzzle.Benchmarks load</c>, one process each way); a Distill process of two layers of the 1B shape
/// 65-66 → 47-52 s, its loading 6.5-7.4 → 1.7-1.9 s, its peak RSS 4.58-4.63 → 4.37-4.40 GB; but the default
/// pipeline's Distill 15.6-16.1 → 16.2-17.8 s and Heal 34.3 → 35.5-38.1 s, whose tensors are small. So it is on for
/// parents of at least <see cref="MinParentParameters"/>, and a value the user's environment sets is kept. Timing jobs
/// (Measure, Search's closed loop, Speed) are left as they were: huge pages for all of malloc widened the spread of the
/// default parent's timings between processes (README, "timing noise"), and their costs were studied without them.
/// </summary>
public static class HugePages
{
    public const string Variable = "THP_MEM_ALLOC_ENABLE";
    /// <summary>From this parent size on, job processes use huge pages (the default and moby-2x parents have at most
    /// 6.5M parameters, Llama-3.2-1B 1.24B).</summary>
    public const long MinParentParameters = 100_000_000;

    /// <summary>Whether libtorch in this process asks for huge pages: the variable is "1" (libtorch reads it once, at the
    /// process's first allocation, and takes "1" or "0").</summary>
    public static bool InThisProcess => Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>What a job process's environment gets for a parent of <paramref name="parentParameters"/> parameters,
    /// given the value the user's environment has (null: unset), and whether the job times models.</summary>
    public static IReadOnlyDictionary<string, string> JobEnvironment(long parentParameters, string? userValue, bool timing) =>
        userValue is null && !timing && parentParameters >= MinParentParameters
            ? new Dictionary<string, string> { [Variable] = "1" }
            : new Dictionary<string, string>();
}
