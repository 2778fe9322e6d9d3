using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Cli;

/// <summary>Turns the Engine's input errors into clear lines on stderr and a non-zero exit.</summary>
public static class CliErrors
{
    [ThreadStatic] static string? t_store;

    /// <summary>The store the running command opened (<see cref="Commands.PipelineOptions.Open"/> sets it), so that a
    /// full disk's error can say what the store holds; null until one is opened. One per thread: a command runs on the
    /// thread that called <see cref="Run"/>.</summary>
    public static string? Store { get => t_store; set => t_store = value; }

    public static int Run(Func<int> command)
    {
        Store = null;
        try { return command(); }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled: what finished stays cached");
            return 130; // as a shell reports a process ended by Ctrl-C
        }
        catch (Exception e) when (JobExit.MayPass(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine($"(exit {JobExit.PassingError}: a filesystem error that may pass; run again once the filesystem answers)");
            return JobExit.PassingError;
        }
        catch (SpecException e)
        {
            Console.Error.WriteLine(e.Message); // already FILE:LINE:COLUMN: error: ..., one line per error
            return 1;
        }
        catch (Exception e) when (e is Engine.Search.SearchInfeasibleException or CheckpointException or PackageIntegrityException or FeedException or ExportException or InvalidDataException or FileNotFoundException
                                      or DirectoryNotFoundException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            // a full disk (never an error that may pass: it would be full again) says how full, what the store holds and what frees room
            if (DiskFull.Explain(e, Store) is { } full) Console.Error.WriteLine($"error: {full}");
            return 1;
        }
        catch (System.Runtime.InteropServices.ExternalException e) when (e.GetType() == typeof(System.Runtime.InteropServices.ExternalException))
        {
            // libtorch's errors (out of memory on a GPU, an index out of range) come as this type, with libtorch's own
            // trace after the first line: one line and exit 1, as any other error, not an aborted process
            Console.Error.WriteLine($"error: libtorch: {e.Message.Split('\n')[0].Trim()}");
            return 1;
        }
    }
}
