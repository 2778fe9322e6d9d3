using Puzzle.Engine.Checkpoints;

namespace Puzzle.Cli;

/// <summary>Turns the Engine's input errors into one clear line on stderr and a non-zero exit.</summary>
public static class CliErrors
{
    public static int Run(Func<int> command)
    {
        try { return command(); }
        catch (Exception e) when (e is CheckpointException or InvalidDataException or FileNotFoundException
                                      or DirectoryNotFoundException or IOException or ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
