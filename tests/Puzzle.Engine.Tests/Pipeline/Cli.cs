using System.Diagnostics;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The real <c>puzzle</c> CLI as a child process (the one built beside the tests).</summary>
public static class Cli
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "puzzle.dll");

    /// <summary>Build configuration of this test run (Debug or Release), read off the output path.</summary>
    public static string Configuration => AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    public static Process Start(string workingDirectory, params string[] args) => StartProcess("dotnet", workingDirectory, [Dll, .. args]);

    public static Process StartProcess(string file, string workingDirectory, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        return Process.Start(start)!;
    }

    public static (int Exit, string Out, string Err) Run(string workingDirectory, params string[] args) =>
        Wait(Start(workingDirectory, args));

    public static (int Exit, string Out, string Err) Wait(Process process, int timeoutSeconds = 600)
    {
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeoutSeconds * 1000))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{process.StartInfo.FileName} {string.Join(" ", process.StartInfo.ArgumentList)} did not finish in {timeoutSeconds} s");
            }
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
    }
}
