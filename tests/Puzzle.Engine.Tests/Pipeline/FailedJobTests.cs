using System.Collections.Concurrent;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>How a failed job is told: its exit status read as people read it, or the error its launcher failed with.</summary>
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
    [InlineData(JobExit.PassingError - 128, "exit 75: a filesystem error that may pass (its log says which): run again once the filesystem answers")]
    public async Task A_job_killed_by_a_signal_is_reported_with_the_signal_and_its_likely_cause(int signal, string told)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        var console = new StringWriter();

        var summary = await Executor(session, new KilledLauncher(signal), console).RunAsync(session.Graph, "Tokenizer");

        var failed = Assert.Single(summary.Jobs, j => j.Outcome == JobOutcome.Failed);
        Assert.Equal(told, failed.Reason);
        Assert.Contains($"FAILED Tokenizer/tokenizer ({told}); log: ", console.ToString());
    }

    /// <summary>Ends the first <paramref name="failures"/> launches of each job as <c>puzzle job</c> does on a stale file
    /// handle (exit 75, the error in its log), then runs it on this thread.</summary>
    sealed class StaleMountLauncher(PipelineSession session, int failures) : IJobLauncher
    {
        public readonly List<string> Launched = [];

        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            Launched.Add(job.Name);
            if (Launched.Count(j => j == job.Name) <= failures)
            {
                File.WriteAllText(logPath, "error: Stale file handle : '/shared/store/cache'\n");
                return Task.FromResult(JobExit.PassingError);
            }
            JobRunner.Run(job, session.Spec, session.Store, session.History, TextWriter.Null, 1, runId);
            return Task.FromResult(0);
        }
    }

    /// <summary>An executor of <paramref name="session"/>'s jobs whose start once more after exit 75 waits 1 ms.</summary>
    static LocalExecutor Executor(PipelineSession session, IJobLauncher launcher, TextWriter console) =>
        new(session.Store, session.History, launcher, session.Spec.Executor.Jobs, console: console) { RetryDelay = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public async Task A_job_that_ends_on_a_filesystem_error_that_may_pass_starts_once_more()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        var console = new StringWriter();
        var launcher = new StaleMountLauncher(session, failures: 1);

        var summary = await Executor(session, launcher, console).RunAsync(session.Graph, "Data");

        Assert.True(summary.Succeeded, console.ToString());
        Assert.Equal(["Tokenizer/tokenizer", "Tokenizer/tokenizer", "Data/tokens", "Data/tokens"], launcher.Launched);
        var text = console.ToString();
        var failedLog = Path.Combine(session.Store.Root, "logs", session.Spec.Name, "Tokenizer", "tokenizer.failed.log");
        Assert.Contains($"[0/2] again  Tokenizer/tokenizer: exit 75, a filesystem error that may pass; starting it again in 1 ms; the attempt's log: {failedLog}\n" +
                        "       | error: Stale file handle : '/shared/store/cache'\n[1/2] run    Tokenizer/tokenizer", text.ReplaceLineEndings("\n"));
        // a start once more takes the count of the start before
        Assert.Equal(["[1/2] run    Tokenizer", "[1/2] run    Tokenizer", "[2/2] run    Data", "[2/2] run    Data"],
            System.Text.RegularExpressions.Regex.Matches(text, @"\[\d/2\] run    \w+").Select(m => m.Value));
        Assert.DoesNotContain("FAILED", text);

        // twice: it fails, saying so
        using var again = new TestRepo(TestRepo.MicroSpec);
        var second = PipelineSession.Open(again.SpecPath);
        var always = new StaleMountLauncher(second, failures: 2);
        var failed = Assert.Single((await Executor(second, always, TextWriter.Null).RunAsync(second.Graph, "Tokenizer")).Jobs, j => j.Outcome == JobOutcome.Failed);
        Assert.Equal("exit 75: a filesystem error that may pass (its log says which): run again once the filesystem answers", failed.Reason);
        Assert.Equal(2, always.Launched.Count);
    }

    /// <summary>Ends the first launch of <paramref name="stale"/> as <c>puzzle job</c> does on a stale file handle (exit
    /// 75 at once, the error in its log) and runs its next on this thread; runs every other job on a thread of its own
    /// once the test releases it, or until the run is cancelled. Records each start, that exit and each end.</summary>
    sealed class StaleOnceLauncher(PipelineSession session, string stale) : IJobLauncher
    {
        public readonly ConcurrentQueue<string> Events = new();
        readonly ConcurrentDictionary<string, TaskCompletionSource> _signals = new();

        TaskCompletionSource Signal(string name) => _signals.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        void Record(string evt)
        {
            Events.Enqueue(evt);
            Signal(evt).TrySetResult();
        }

        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            var first = !Events.Contains($"start {job.Name}");
            Record(first ? $"start {job.Name}" : $"start {job.Name} again");
            if (job.Name == stale && first)
            {
                File.WriteAllText(logPath, "error: Stale file handle : '/shared/store/cache'\n");
                Record($"exit 75 {job.Name}");
                return Task.FromResult(JobExit.PassingError);
            }
            if (job.Name == stale) return Task.FromResult(Run(job, runId));
            return Task.Run(async () =>
            {
                await Signal("release " + job.Name).Task.WaitAsync(cancel);
                return Run(job, runId);
            }, cancel);
        }

        int Run(JobPlan job, string runId)
        {
            JobRunner.Run(job, session.Spec, session.Store, session.History, TextWriter.Null, 1, runId);
            Record($"end {job.Name}");
            return 0;
        }

        public void Release(string job) => Signal("release " + job).TrySetResult();

        public Task WaitFor(string evt) => Signal(evt).Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A runs first and ends on exit 75; B runs beside it, and C after B.</summary>
    static (PipelineSession Session, StaleOnceLauncher Launcher, ManualClock Clock, StringWriter Console, LocalExecutor Executor) StaleA(TestRepo repo)
    {
        var session = PipelineSession.Open(repo.SpecPath, stages: [new OneJobStage("A", []), new OneJobStage("B", []), new OneJobStage("C", ["B"])]);
        var launcher = new StaleOnceLauncher(session, "A/j");
        var clock = new ManualClock();
        var console = new StringWriter();
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 2, threadsPerJob: 1, console: TextWriter.Synchronized(console))
        { Time = clock };
        return (session, launcher, clock, console, executor);
    }

    /// <summary>The timer of the retry's delay, once it is set; fails if the job started again first.</summary>
    static async Task<ManualClock.Timer> RetryTimer(ManualClock clock, StaleOnceLauncher launcher)
    {
        var again = launcher.WaitFor("start A/j again");
        await Task.WhenAny(clock.Created(0), again);
        Assert.False(again.IsCompleted, "A/j started again at once: " + string.Join("; ", launcher.Events));
        return await clock.Created(0);
    }

    [Fact]
    public async Task A_job_that_ends_on_exit_75_starts_again_only_once_the_retry_delay_passed_and_other_jobs_start_and_end_meanwhile()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (session, launcher, clock, console, executor) = StaleA(repo);

        var run = executor.RunAsync(session.Graph, null);
        var delay = await RetryTimer(clock, launcher);
        Assert.Equal(JobExit.RetryDelay, delay.Due);
        // B ends and C, which needs it, starts and ends while A waits: the executor's loop goes on
        launcher.Release("B/j");
        launcher.Release("C/j");
        await launcher.WaitFor("end C/j");
        Assert.DoesNotContain("start A/j again", launcher.Events);
        launcher.Events.Enqueue("15 s later");
        delay.Fire();

        Assert.True((await run.WaitAsync(TimeSpan.FromSeconds(30))).Succeeded, console.ToString());
        Assert.Equal(["start A/j", "exit 75 A/j", "start B/j", "end B/j", "start C/j", "end C/j", "15 s later", "start A/j again", "end A/j"], launcher.Events);
        Assert.Matches(@"\[0/3\] again  A/j: exit 75, a filesystem error that may pass; starting it again in 15 s; the attempt's log: \S+j\.failed\.log\n" +
                       "       \\| error: Stale file handle", console.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task A_run_cancelled_while_a_job_waits_to_start_again_ends_without_starting_it()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (session, launcher, clock, console, executor) = StaleA(repo);
        using var cancel = new CancellationTokenSource();

        var run = executor.RunAsync(session.Graph, null, cancel.Token);
        var delay = await RetryTimer(clock, launcher);
        await launcher.WaitFor("start B/j");
        await cancel.CancelAsync();

        // the clock never moves: only the cancellation can end the wait
        var e = await Assert.ThrowsAsync<RunCancelledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(delay.Disposed, "the delay was not given up");
        Assert.Equal(["start A/j", "exit 75 A/j", "start B/j"], launcher.Events);
        Assert.Equal("A Cancelled not started again: the run was cancelled while it waited after exit 75 (a filesystem error that may pass); " +
                     "B Cancelled stopped: the run was cancelled; C Cancelled not started: the run was cancelled", CancelledRunTests.Outcomes(e.Summary));
        Assert.EndsWith(Path.Combine("A", "j.failed.log"), e.Summary.Jobs.Single(j => j.Stage == "A").Log);
        Assert.Contains("cancelled run: 0 ran, 0 failed, 1 stopped, 2 not started; record: ", console.ToString());
    }

    /// <summary>Runs each job on this thread, then fails the launch of <paramref name="faulty"/> (before the job runs, or
    /// after it published), as a cluster's queue that stops answering or a job's closed pipe would.</summary>
    sealed class FaultingLauncher(PipelineSession session, string faulty, bool afterRunning) : IJobLauncher
    {
        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            if (job.Name != faulty || afterRunning) JobRunner.Run(job, session.Spec, session.Store, session.History, TextWriter.Null, 1, runId);
            return job.Name == faulty ? Task.FromException<int>(new IOException("squeue did not answer")) : Task.FromResult(0);
        }
    }

    [Fact]
    public async Task A_launcher_that_fails_fails_its_job_and_the_run_goes_on_and_is_recorded()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        var console = new StringWriter();

        var summary = await session.RunAsync("Data", new FaultingLauncher(session, "Tokenizer/tokenizer", afterRunning: false), console);

        var failed = Assert.Single(summary.Jobs, j => j.Outcome == JobOutcome.Failed);
        Assert.Equal(("Tokenizer", "its launcher failed: squeue did not answer"), (failed.Stage, failed.Reason));
        Assert.Contains("FAILED Tokenizer/tokenizer (its launcher failed: squeue did not answer); log: ", console.ToString());
        Assert.Equal(JobOutcome.Skipped, Assert.Single(summary.Jobs, j => j.Stage == "Data").Outcome);
        Assert.False(summary.Succeeded);
        var recorded = RunSummary.Parse(File.ReadAllText(Path.Combine(session.Store.Root, "runs", session.Spec.Name, "last.json")));
        Assert.Equal(JobOutcome.Failed, recorded.Jobs.Single(j => j.Stage == "Tokenizer").Outcome);
    }

    [Fact]
    public async Task A_job_that_published_before_its_launcher_failed_is_built()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);

        var summary = await session.RunAsync("Data", new FaultingLauncher(session, "Tokenizer/tokenizer", afterRunning: true), TextWriter.Null);

        Assert.True(summary.Succeeded, string.Join("; ", summary.Jobs.Select(j => $"{j.Stage}/{j.Job} {j.Outcome} {j.Reason}")));
        Assert.All(summary.Jobs, j => Assert.Equal(JobOutcome.Ran, j.Outcome));
    }

    /// <summary>Starts each job as one that runs until it is stopped, and fails in the executor's hands (as a log it cannot
    /// write or a refused submission would) right after the first launch.</summary>
    sealed class FailingExecutorLauncher : IJobLauncher
    {
        public readonly TaskCompletionSource Stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            var running = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously); // ends only when stopped
            cancel.Register(() =>
            {
                Stopped.TrySetResult();
                running.TrySetCanceled(cancel);
            });
            return running.Task;
        }

        public void Flush() => throw new IOException("No space left on device");
    }

    [Fact]
    public async Task When_the_executor_itself_fails_its_running_jobs_are_stopped_and_the_run_is_recorded()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        var launcher = new FailingExecutorLauncher();

        var e = await Assert.ThrowsAsync<IOException>(() => session.RunAsync("Data", launcher, TextWriter.Null));

        Assert.Equal("No space left on device", e.Message);
        Assert.True(launcher.Stopped.Task.IsCompleted, "the running job was left running");
        Assert.Equal("Tokenizer Cancelled stopped: the executor failed: No space left on device; " +
                     "Data Cancelled not started: the executor failed: No space left on device",
            CancelledRunTests.Outcomes(CancelledRunTests.Recorded(session))); // the run is recorded all the same
    }
}
