using System.Diagnostics;
using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

public class RunLogsTests
{
    static JobPlan Job() => new(new FanOutStages.Select(), "search", new FanOutStages.NoSettings(), new Dictionary<string, JobPlan>());

    [Fact]
    public void A_run_that_only_waited_on_the_lock_never_touches_the_log_of_the_run_that_built_the_job()
    {
        using var dir = new TempDir();
        var job = Job();
        var builder = new RunLogs(dir.Path, "ci");
        var waiter = new RunLogs(dir.Path, "ci");
        var built = builder.Start(job);
        var waited = waiter.Start(job);
        Assert.NotEqual(built, waited);
        File.WriteAllText(built, "epoch 1\nepoch 2\npublished\n");
        File.WriteAllText(waited, "cached Select/search\n");

        Assert.Equal(builder.PathOf(job), builder.Finish(job, RunLogs.Outcome.Built));
        Assert.Equal(builder.PathOf(job), waiter.Finish(job, RunLogs.Outcome.Waited));

        Assert.Equal("epoch 1\nepoch 2\npublished\n", File.ReadAllText(builder.PathOf(job)));
        Assert.Equal(["search.log"], Directory.GetFiles(Path.GetDirectoryName(builder.PathOf(job))!).Select(Path.GetFileName));
    }

    [Fact]
    public void A_failed_jobs_excerpt_starts_at_its_error_and_is_the_tail_without_one()
    {
        using var dir = new TempDir();
        var log = Path.Combine(dir.Path, "heal.failed.log");
        var frames = Enumerable.Range(1, 30).Select(i => $"   at Frame{i}()");
        File.WriteAllLines(log, ["gkd child1 [---] 1 %", "Unhandled exception. System.Runtime.InteropServices.ExternalException (0x80004005): boom", .. frames]);
        var excerpt = RunLogs.FailureExcerpt(log);
        Assert.Equal(15, excerpt.Count);
        Assert.StartsWith("Unhandled exception.", excerpt[0]);
        Assert.Equal("   at Frame1()", excerpt[1]); // where it was raised, not the bottom of the stack

        File.WriteAllLines(log, ["step 1", "step 2", "error: the spec changed", "   at Frame1()"]);
        Assert.Equal(["error: the spec changed", "   at Frame1()"], RunLogs.FailureExcerpt(log));
        File.WriteAllLines(log, frames);
        Assert.Equal(frames.TakeLast(15), RunLogs.FailureExcerpt(log));
        Assert.Empty(RunLogs.FailureExcerpt(Path.Combine(dir.Path, "missing.log")));
    }

    [Fact]
    public void A_private_log_left_by_a_killed_run_is_removed_when_the_job_starts_again()
    {
        using var dir = new TempDir();
        var job = Job();
        var logs = new RunLogs(dir.Path, "ci");
        var folder = Path.GetDirectoryName(logs.PathOf(job))!;
        Directory.CreateDirectory(folder);
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        gone.WaitForExit();
        var killed = Path.Combine(folder, $".search.log.tmp-{gone.Id}-0123");
        File.WriteAllText(killed, "half a log");

        var mine = logs.Start(job);

        Assert.False(File.Exists(killed));
        File.WriteAllText(mine, "whole log\n");
        logs.Finish(job, RunLogs.Outcome.Built);
        Assert.Equal("whole log\n", File.ReadAllText(logs.PathOf(job)));
    }

    [Fact]
    public void A_failed_attempt_keeps_the_log_of_the_build_before_it_and_a_later_build_clears_the_failure()
    {
        using var dir = new TempDir();
        var job = Job();
        var logs = new RunLogs(dir.Path, "ci");
        File.WriteAllText(logs.Start(job), "built fine\n");
        logs.Finish(job, RunLogs.Outcome.Built);

        File.WriteAllText(logs.Start(job), "CUDA is not available\n");
        Assert.Equal(logs.FailedPathOf(job), logs.Finish(job, RunLogs.Outcome.Failed));
        Assert.Equal("built fine\n", File.ReadAllText(logs.PathOf(job)));
        Assert.Equal("CUDA is not available\n", File.ReadAllText(logs.FailedPathOf(job)));

        File.WriteAllText(logs.Start(job), "built again\n");
        logs.Finish(job, RunLogs.Outcome.Built);
        Assert.Equal("built again\n", File.ReadAllText(logs.PathOf(job)));
        Assert.False(File.Exists(logs.FailedPathOf(job)));
    }
}
