using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>Starts one job somewhere (a child process, this process, a cluster) and reports its exit code.</summary>
public interface IJobLauncher
{
    /// <param name="gpu">the GPU the job may use (its CUDA_VISIBLE_DEVICES), or null: none, or the launcher's own choice</param>
    Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null);

    /// <summary>
    /// Called after each wave of launches. A launcher that batches (Slurm: one job array per stage) submits here what
    /// <see cref="LaunchAsync"/> collected; one that starts jobs right away has nothing to do.
    /// </summary>
    void Flush() { }
}
