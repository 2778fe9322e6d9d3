namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>A Slurm command refused or failed; the message is Slurm's own, on one line, prefixed by the command.</summary>
public sealed class SlurmException(string command, string message) : InvalidOperationException($"{command}: {OneLine(command, message)}")
{
    public string Command { get; } = command;

    /// <summary>"sbatch: error: a\nsbatch: error: b" → "error: a; error: b".</summary>
    static string OneLine(string command, string message) => string.Join("; ", message
        .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(line => line.StartsWith(command + ": ", StringComparison.Ordinal) ? line[(command.Length + 2)..] : line));
}
