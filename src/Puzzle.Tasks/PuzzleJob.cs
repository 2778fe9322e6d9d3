using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Tasks;

/// <summary>
/// Runs one pipeline job as a separate <c>puzzle job</c> process; with YieldDuringToolExecution the MSBuild node
/// is free for other work while the job trains. A job that ends on a filesystem error that may pass (exit 75: an I/O
/// error, a stale file handle) starts once more, <see cref="JobExit.RetryDelay"/> later, as the local executor starts it
/// (the node is free meanwhile too, and a cancelled build does not wait): that attempt's error lines are logged as
/// messages, not errors, so that a second attempt that succeeds leaves the build green.
/// </summary>
public sealed class PuzzleJob : ToolTask
{
    [Required] public string Pipeline { get; set; } = "";
    [Required] public string Cli { get; set; } = "";
    [Required] public string Stage { get; set; } = "";
    [Required] public string JobId { get; set; } = "";
    public string? Key { get; set; }
    public int Threads { get; set; }
    /// <summary>The GPU the job computes on, as CUDA_VISIBLE_DEVICES names it (the job then sees it alone); empty: every GPU.</summary>
    public string? Gpu { get; set; }
    public string? Store { get; set; }
    /// <summary>cpu or cuda instead of the spec's device (<c>$(PuzzleDevice)</c>), as the graph was planned with; empty: the spec's.</summary>
    public string? Device { get; set; }
    public string Dotnet { get; set; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    protected override string ToolName => "dotnet";
    protected override string GenerateFullPathToTool() => Dotnet;

    protected override string GenerateCommandLineCommands()
    {
        var builder = new CommandLineBuilder();
        builder.AppendFileNameIfNotNull(Cli);
        builder.AppendSwitch("job");
        builder.AppendFileNameIfNotNull(Pipeline);
        builder.AppendSwitchIfNotNull("--stage ", Stage);
        builder.AppendSwitchIfNotNull("--id ", JobId);
        builder.AppendSwitchIfNotNull("--key ", Key);
        if (!string.IsNullOrEmpty(Store)) builder.AppendSwitchIfNotNull("--store ", Store);
        if (!string.IsNullOrEmpty(Device)) builder.AppendSwitchIfNotNull("--device ", Device);
        if (Threads > 0) builder.AppendSwitchIfNotNull("--threads ", Threads.ToString());
        return builder.ToString();
    }

    readonly List<(string Line, MessageImportance Importance)> _held = []; // the CLI's closing error lines, until the exit is known
    readonly CancellationTokenSource _cancelled = new(); // the build's cancellation (Ctrl+C), which ends the wait before the retry
    bool _lastAttempt;

    /// <summary>How long a job that ended on a filesystem error that may pass waits before it starts once more
    /// (<see cref="JobExit.RetryDelay"/>; a test's few milliseconds).</summary>
    internal TimeSpan RetryDelay { get; init; } = JobExit.RetryDelay;

    /// <summary>The clock that times <see cref="RetryDelay"/> (a test's, which moves when the test says).</summary>
    internal TimeProvider Time { get; init; } = TimeProvider.System;

    public override bool Execute()
    {
        if (!string.IsNullOrEmpty(Gpu)) EnvironmentVariables = [.. EnvironmentVariables ?? [], $"CUDA_VISIBLE_DEVICES={Gpu}"];
        if (base.Execute()) return Release();
        if (!_lastAttempt && ExitCode == JobExit.PassingError)
        {
            _lastAttempt = true;
            Log.LogMessage(MessageImportance.High, "puzzle: " + JobExit.Retrying($"{Stage}/{JobId}", RetryDelay));
            if (!WaitToRetry())
            {
                Log.LogError($"puzzle: {Stage}/{JobId} was not started again: the build was cancelled while it waited after exit {JobExit.PassingError}");
                return false;
            }
            return base.Execute() && Release();
        }
        return false;
    }

    /// <summary>Waits <see cref="RetryDelay"/>, with the node yielded as during the tool's run; false when the build
    /// was cancelled meanwhile.</summary>
    bool WaitToRetry()
    {
        var engine = YieldDuringToolExecution ? BuildEngine as IBuildEngine3 : null;
        engine?.Yield();
        try
        {
            System.Threading.Tasks.Task.Delay(RetryDelay, Time, _cancelled.Token).Wait();
            return true;
        }
        catch (AggregateException e) when (e.InnerException is TaskCanceledException) { return false; }
        finally { engine?.Reacquire(); }
    }

    public override void Cancel()
    {
        _cancelled.Cancel();
        base.Cancel();
    }

    // the CLI ends a failure with "error: ..." (and, on a passing error, "(exit 75: ...)"), which MSBuild would log as
    // errors at once: held until the exit says whether the job starts once more
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        if (singleLine.StartsWith("error: ", StringComparison.Ordinal) || singleLine.StartsWith("(exit ", StringComparison.Ordinal))
            _held.Add((singleLine, messageImportance));
        else base.LogEventsFromTextOutput(singleLine, messageImportance);
    }

    protected override bool HandleTaskExecutionErrors()
    {
        if (!_lastAttempt && ExitCode == JobExit.PassingError)
        {
            foreach (var (line, _) in _held) Log.LogMessage(MessageImportance.High, line);
            _held.Clear();
            return false; // Execute starts it once more
        }
        Release();
        return base.HandleTaskExecutionErrors();
    }

    /// <summary>Logs the held lines as the tool's output is logged (an "error: ..." line as an error).</summary>
    bool Release()
    {
        foreach (var (line, importance) in _held) base.LogEventsFromTextOutput(line, importance);
        _held.Clear();
        return !Log.HasLoggedErrors;
    }

    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.Normal;
}
