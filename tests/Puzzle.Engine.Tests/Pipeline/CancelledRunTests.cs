using System.Diagnostics;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A run cancelled (Ctrl-C) or whose executor failed is recorded: what ran, what was stopped, what never started.</summary>
public class CancelledRunTests
{
    /// <summary>Runs each job on this thread, except <paramref name="held"/>, which writes a line to its log and runs until
    /// it is stopped; <see cref="Held"/> is set when it starts.</summary>
    sealed class HoldingLauncher(PipelineSession session, string held) : IJobLauncher
    {
        public readonly TaskCompletionSource Held = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            if (job.Name != held)
            {
                JobRunner.Run(job, session.Spec, session.Store, session.History, TextWriter.Null, 1, runId);
                return Task.FromResult(0);
            }
            File.WriteAllText(logPath, "halfway\n");
            var running = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously); // ends only when stopped
            cancel.Register(() => running.TrySetCanceled(cancel));
            Held.TrySetResult();
            return running.Task;
        }
    }

    internal static RunSummary Recorded(PipelineSession session) =>
        RunSummary.Parse(File.ReadAllText(Path.Combine(session.Store.Root, "runs", session.Spec.Name, "last.json")));

    internal static string Outcomes(RunSummary summary) => string.Join("; ", summary.Jobs.Select(j => $"{j.Stage} {j.Outcome} {j.Reason}"));

    [Fact]
    public async Task A_cancelled_run_records_what_ran_what_it_stopped_and_what_never_started()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        var launcher = new HoldingLauncher(session, "Data/tokens");
        var console = new StringWriter();
        using var cancel = new CancellationTokenSource();

        var run = session.RunAsync("Parent", launcher, console, cancel.Token);
        await launcher.Held.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await cancel.CancelAsync();
        var e = await Assert.ThrowsAsync<RunCancelledException>(() => run);

        var expected = "Tokenizer Ran ; Data Cancelled stopped: the run was cancelled; Parent Cancelled not started: the run was cancelled";
        Assert.Equal(expected, Outcomes(e.Summary));
        Assert.Equal(expected, Outcomes(Recorded(session)));
        var data = e.Summary.Jobs.Single(j => j.Stage == "Data");
        Assert.EndsWith(Path.Combine("Data", "tokens.failed.log"), data.Log);
        Assert.Equal("halfway\n== puzzle: stopped: the run was cancelled\n", File.ReadAllText(data.Log!)); // what the stopped job wrote is kept
        var shown = JobLog.Find(session, session.Graph.Find("Data", "tokens"), JobLog.Pick.Newest);
        Assert.Equal(data.Log, shown.Path);
        Assert.StartsWith("the last attempt of Data/tokens was stopped (", shown.Note);
        Assert.Equal(["Data: never built; its last attempt was stopped", "Parent: never built"],
            session.Status("Parent").Where(s => s.State != JobState.Cached).Select(s => $"{s.Stage}: {s.Reason}"));
        Assert.Contains("cancelled run: 1 ran, 0 failed, 1 stopped, 1 not started; record: ", console.ToString());
        // the next run times its Tokenizer from this one
        Assert.Contains("Tokenizer", RunProgress.StageTimes(RunSummary.Earlier(session.Store.Root, session.Spec.Name)).Keys);
    }

    /// <summary>Ctrl-C (here SIGTERM, the same handler) during a real run of the CLI: the job process is killed, the run
    /// exits 130, and <c>--summary</c> gets the record.</summary>
    [Fact]
    [Trait("Category", "Slow")] // puzzle run with job processes
    public async Task Interrupting_puzzle_run_writes_its_summary_and_exits_130()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("tokens: 3000,", "tokens: 4000000,"));
        var record = Path.Combine(repo.Root, "run.json");
        using var run = Cli.Start(repo.Root, "run", repo.SpecPath, "--target", "Parent", "--summary", record);
        var err = new StringWriter();
        var parentStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderr = Task.Run(async () =>
        {
            while (await run.StandardError.ReadLineAsync() is { } line)
            {
                lock (err) err.WriteLine(line);
                if (line.Contains("run    Parent/parent")) parentStarted.TrySetResult();
            }
        });
        var stdout = run.StandardOutput.ReadToEndAsync();
        string Err() { lock (err) return err.ToString(); }

        await parentStarted.Task.WaitAsync(TimeSpan.FromSeconds(120));
        using (var kill = Process.Start("kill", ["-TERM", run.Id.ToString()]))
        {
            await kill.WaitForExitAsync();
            Assert.Equal(0, kill.ExitCode);
        }
        Assert.True(run.WaitForExit(TimeSpan.FromSeconds(60)), "puzzle run did not stop");
        await stderr;
        Assert.True(run.ExitCode == 130, $"exit {run.ExitCode}: {Err()}");
        Assert.Contains("cancelled: what finished stays cached", Err());
        Assert.Contains("test: 2 ran, 0 cached, 0 failed, 0 skipped, 1 cancelled in ", await stdout);
        var summary = RunSummary.Parse(File.ReadAllText(record), record);
        Assert.Equal("Tokenizer Ran ; Data Ran ; Parent Cancelled stopped: the run was cancelled", Outcomes(summary));
        Assert.DoesNotContain(Process.GetProcesses(), p => IsJobOf(p, repo.Root)); // the Parent job process was killed
    }

    static bool IsJobOf(Process process, string root)
    {
        try { return File.ReadAllText($"/proc/{process.Id}/cmdline").Contains(root); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
