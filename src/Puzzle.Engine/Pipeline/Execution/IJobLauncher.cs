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

    /// <summary>
    /// Asks a running job to compute on <paramref name="threads"/> threads from its next step on (the local executor
    /// gives a job the cores a finished one left, and takes them back when another starts beside it); false where the
    /// launcher cannot tell it (jobs on threads of this process, or on a cluster's nodes).
    /// </summary>
    bool SetThreads(JobPlan job, int threads) => false;

    /// <summary>How long <paramref name="job"/> has run where the launcher knows better than the time since its launch
    /// (a cluster's task: since it started on its node, zero while it waits in the queue); null: since its launch.</summary>
    TimeSpan? RunningFor(JobPlan job) => null;

    /// <summary>Whether the jobs run on this machine, sharing its memory (false: on a cluster's nodes, each with its own).</summary>
    bool OnThisMachine => true;
}
