using System.Runtime.InteropServices;

namespace Puzzle.Cli;

/// <summary>
/// The first Ctrl-C (SIGINT) or SIGTERM cancels <see cref="Token"/> instead of killing the process, so a run can stop
/// what it started (child processes, Slurm arrays) and keep what finished; a second one kills as usual.
/// </summary>
public sealed class Interrupt : IDisposable
{
    readonly CancellationTokenSource _cancel;
    readonly PosixSignalRegistration _sigint;
    readonly PosixSignalRegistration _sigterm;

    public Interrupt(CancellationToken outer)
    {
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    public CancellationToken Token => _cancel.Token;

    void OnSignal(PosixSignalContext context)
    {
        if (_cancel.IsCancellationRequested) return;
        context.Cancel = true;
        Console.Error.WriteLine($"{context.Signal}: cancelling (again to kill)");
        _cancel.Cancel();
    }

    public void Dispose()
    {
        _sigint.Dispose();
        _sigterm.Dispose();
        _cancel.Dispose();
    }
}
