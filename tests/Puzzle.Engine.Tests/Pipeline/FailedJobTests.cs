using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>How a failed job is told: its exit status read as people read it.</summary>
public class FailedJobTests
{
    /// <summary>A launcher whose every job ends as a process killed by <c>signal</c> would (128 plus its number).</summary>
    sealed class KilledLauncher(int signal) : IJobLauncher
    {
        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null) =>
            Task.FromResult(128 + signal);
    }

    [Theory]
    [InlineData(9, "exit 137: killed by SIGKILL, most often the kernel's out-of-memory killer (dmesg says)")]
    [InlineData(11, "exit 139: segmentation fault (SIGSEGV)")]
    [InlineData(-127, "exit 1")]
    public async Task A_job_killed_by_a_signal_is_reported_with_the_signal_and_its_likely_cause(int signal, string told)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        var console = new StringWriter();

        var summary = await session.RunAsync("Tokenizer", new KilledLauncher(signal), console);

        var failed = Assert.Single(summary.Jobs, j => j.Outcome == JobOutcome.Failed);
        Assert.Equal(told, failed.Reason);
        Assert.Contains($"FAILED Tokenizer/tokenizer ({told}); log: ", console.ToString());
    }
}
