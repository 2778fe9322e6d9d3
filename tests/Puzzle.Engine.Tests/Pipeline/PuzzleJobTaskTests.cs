extern alias Tasks;
using System.Collections;
using Microsoft.Build.Framework;
using Puzzle.Engine.Pipeline.Execution;
using PuzzleJob = Tasks::Puzzle.Tasks.PuzzleJob;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The MSBuild task that runs one job: a job that ends on a filesystem error that may pass (exit 75) starts once
/// more, after <see cref="JobExit.RetryDelay"/>, and the build stays green when that attempt succeeds; any other failure
/// is the build's error at once.</summary>
public sealed class PuzzleJobTaskTests
{
    /// <summary>A build engine that keeps what the task logs.</summary>
    sealed class Engine : IBuildEngine
    {
        public readonly List<string> Errors = [], Messages = [];
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "test.proj";
        public void LogErrorEvent(BuildErrorEventArgs e) => Errors.Add(e.Message ?? "");
        public void LogWarningEvent(BuildWarningEventArgs e) => Messages.Add(e.Message ?? "");
        public void LogMessageEvent(BuildMessageEventArgs e) => Messages.Add(e.Message ?? "");
        public void LogCustomEvent(CustomBuildEventArgs e) { }
        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => false;
    }

    /// <summary>Runs the task with a stand-in for <c>dotnet puzzle.dll</c>: bash running a script that ends its first
    /// <paramref name="failures"/> calls with <paramref name="exit"/> and the CLI's closing lines, then publishes; the
    /// start once more after exit 75 waits 1 ms.</summary>
    static (bool Ok, Engine Engine, int Calls) Run(int failures, int exit) => Run(failures, exit, null).Result;

    static ((bool Ok, Engine Engine, int Calls) Result, string[] Calls) Run(int failures, int exit, string? device)
    {
        using var dir = new TempDir();
        var (task, engine) = JobTask(dir, failures, exit, device, retryDelay: TimeSpan.FromMilliseconds(1));
        var ok = task.Execute();
        var lines = File.ReadAllLines(dir["calls"]);
        return ((ok, engine, lines.Length), lines);
    }

    /// <summary>The task of <see cref="Run(int, int, string?)"/> in <paramref name="dir"/>, its calls listed in
    /// <c>calls</c> there, timed by <paramref name="clock"/> (default: the system's).</summary>
    static (PuzzleJob Task, Engine Engine) JobTask(TempDir dir, int failures, int exit, string? device = null, TimeSpan? retryDelay = null, TimeProvider? clock = null)
    {
        var calls = dir["calls"];
        var script = dir["puzzle.sh"];
        File.WriteAllText(script, $$"""
            echo "$*" >> '{{calls}}'
            if [ "$(wc -l < '{{calls}}')" -le {{failures}} ]; then
              echo "working on $3" && echo "error: Stale file handle : '/shared/store/cache'" >&2
              [ {{exit}} = 75 ] && echo "(exit 75: a filesystem error that may pass; run again once the filesystem answers)" >&2
              exit {{exit}}
            fi
            echo "published Data/tokens /shared/store/cache/ab/abcdef"
            """);
        var engine = new Engine();
        return (new PuzzleJob
        {
            BuildEngine = engine, Dotnet = "/bin/bash", Cli = script, Pipeline = dir["spec.yaml"], Stage = "Data", JobId = "tokens", Device = device,
            RetryDelay = retryDelay ?? JobExit.RetryDelay, Time = clock ?? TimeProvider.System,
        }, engine);
    }

    /// <summary>Starts <paramref name="task"/> on a thread of its own; once its first call ended on exit 75, the timer
    /// of its wait (fails if it started again first).</summary>
    static async Task<(Task<bool> Execute, ManualClock.Timer Delay)> UntilItWaits(PuzzleJob task, ManualClock clock, TempDir dir)
    {
        var execute = Task.Run(task.Execute);
        await Task.WhenAny(clock.Created(0), execute);
        Assert.False(execute.IsCompleted, "it ended without waiting: " + string.Join("; ", File.ReadAllLines(dir["calls"])));
        return (execute, await clock.Created(0));
    }

    [Fact]
    public void A_job_that_ends_on_a_filesystem_error_that_may_pass_starts_once_more_and_the_build_stays_green()
    {
        var (ok, engine, calls) = Run(failures: 1, exit: 75);
        Assert.True(ok, string.Join("\n", engine.Errors));
        Assert.Equal(2, calls);
        Assert.Empty(engine.Errors);
        Assert.Contains("puzzle: Data/tokens: exit 75, a filesystem error that may pass; starting it again in 1 ms", engine.Messages);
        Assert.Contains("error: Stale file handle : '/shared/store/cache'", engine.Messages); // the attempt's error, told as a message
        Assert.Contains("published Data/tokens /shared/store/cache/ab/abcdef", engine.Messages);
    }

    [Fact]
    public void A_job_that_fails_twice_so_or_once_on_an_error_of_its_own_fails_the_build_with_its_error()
    {
        var (ok, engine, calls) = Run(failures: 2, exit: 75);
        Assert.False(ok);
        Assert.Equal(2, calls);
        Assert.Contains(engine.Errors, e => e.Contains("Stale file handle"));

        (ok, engine, calls) = Run(failures: 1, exit: 1);
        Assert.False(ok);
        Assert.Equal(1, calls);
        Assert.Contains(engine.Errors, e => e.Contains("Stale file handle"));
        Assert.DoesNotContain(engine.Messages, m => m.Contains("starting it again"));
    }

    [Fact]
    public async Task A_job_that_ends_on_exit_75_starts_again_only_once_the_retry_delay_passed()
    {
        using var dir = new TempDir();
        var clock = new ManualClock();
        var (task, engine) = JobTask(dir, failures: 1, exit: 75, clock: clock);

        var (execute, delay) = await UntilItWaits(task, clock, dir);
        Assert.Equal(JobExit.RetryDelay, delay.Due);
        Assert.Single(File.ReadAllLines(dir["calls"])); // not started again before its time
        delay.Fire();

        Assert.True(await execute.WaitAsync(TimeSpan.FromSeconds(30)), string.Join("\n", engine.Errors));
        Assert.Equal(2, File.ReadAllLines(dir["calls"]).Length);
        Assert.Contains("puzzle: Data/tokens: exit 75, a filesystem error that may pass; starting it again in 15 s", engine.Messages);
    }

    [Fact]
    public async Task A_build_cancelled_while_a_job_waits_to_start_again_ends_without_starting_it()
    {
        using var dir = new TempDir();
        var clock = new ManualClock();
        var (task, engine) = JobTask(dir, failures: 1, exit: 75, clock: clock);

        var (execute, delay) = await UntilItWaits(task, clock, dir);
        task.Cancel(); // as MSBuild does on Ctrl+C

        // the clock never moves: only the cancellation can end the wait
        Assert.False(await execute.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(delay.Disposed, "the delay was not given up");
        Assert.Single(File.ReadAllLines(dir["calls"]));
        Assert.Contains("puzzle: Data/tokens was not started again: the build was cancelled while it waited after exit 75", engine.Errors);
    }

    [Fact]
    public void PuzzleDevice_is_passed_on_to_the_job_so_that_it_plans_the_keys_the_graph_planned()
    {
        var ((ok, engine, _), calls) = Run(failures: 0, exit: 0, device: "cuda");
        Assert.True(ok, string.Join("\n", engine.Errors));
        Assert.EndsWith(" --device cuda", Assert.Single(calls));
        Assert.DoesNotContain("--device", Assert.Single(Run(failures: 0, exit: 0, device: null).Calls));
    }
}
