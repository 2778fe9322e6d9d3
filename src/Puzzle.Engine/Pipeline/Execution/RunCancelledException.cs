namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>A run cancelled (Ctrl-C, SIGTERM) after its jobs were stopped, with the record it saved in the store: what
/// ran and stays cached, what was stopped, what never started.</summary>
public sealed class RunCancelledException(RunSummary summary, CancellationToken token)
    : OperationCanceledException("the run was cancelled", token)
{
    public RunSummary Summary { get; } = summary;
}
