using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// A job process's standard input carries its thread count (<see cref="ProcessJobLauncher.SetThreads"/>). A count sent
/// to a job that has just ended is lost, and the job's end is still the job's: a CI run once failed with "Pipe is
/// broken" when the launcher closed the input of a job whose last count had not gone through.
/// </summary>
public class JobInputTests
{
    /// <summary>Completes when the launcher echoes a job's progress line containing <paramref name="text"/>.</summary>
    sealed class Watch(string text) : StringWriter
    {
        public readonly TaskCompletionSource Seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void WriteLine(string? value)
        {
            if (value?.Contains(text, StringComparison.Ordinal) == true) Seen.TrySetResult();
        }
    }

    [Fact]
    public async Task A_thread_count_sent_to_a_job_that_no_longer_reads_it_is_lost_and_the_job_ends_as_it_ended()
    {
        using var dir = new TempDir();
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var job = PipelineSession.Open(repo.SpecPath).Graph.Jobs["Data"][0];
        var flag = Path.Combine(dir.Path, "go");
        var watch = new Watch("input closed");
        // a stand-in for a job process: it stops reading its input (as a job that has ended has), says so in a progress
        // line, and exits 0 once the test has sent it a count
        var launcher = new ProcessJobLauncher(["/bin/sh", "-c",
                "exec 0<&-; echo 'input closed [#] 100%  ETA 0:00:00'; while [ ! -e \"$GO\" ]; do sleep 0.05; done", "sh"],
            "spec.yaml", dir.Path, progress: watch, environment: _ => new Dictionary<string, string> { ["GO"] = flag });

        var run = launcher.LaunchAsync(job, "run1", Path.Combine(dir.Path, "job.log"), 1, CancellationToken.None);
        await watch.Seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(launcher.SetThreads(job, 2)); // nobody reads it: lost
        File.WriteAllText(flag, "");
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(launcher.SetThreads(job, 2)); // and once the job has ended, nothing is sent
    }
}
