using System.Diagnostics;

namespace Puzzle.Benchmarks;

/// <summary>Runs a command to completion, failing with its output when it exits non-zero.</summary>
public static class Processes
{
    public static void Exec(params string[] command) => Output(command);

    /// <summary>Runs a command in <paramref name="directory"/> to completion; fails with its output when it exits non-zero.</summary>
    public static void ExecIn(string directory, params string[] command) => Run(directory, command);

    /// <summary>Runs a command to completion and returns its standard output; fails with its output when it exits non-zero.</summary>
    public static string Output(params string[] command) => Run(null, command);

    static string Run(string? directory, string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory ?? "" };
        foreach (var a in command.Skip(1)) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{string.Join(" ", command)} failed: {output.Result}{error.Result}");
        return output.Result;
    }
}
