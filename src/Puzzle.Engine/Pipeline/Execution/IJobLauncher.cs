using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>Starts one job somewhere (a child process, this process, a cluster) and reports its exit code.</summary>
public interface IJobLauncher
{
    Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel);
}
