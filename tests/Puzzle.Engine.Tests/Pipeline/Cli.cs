using System.Diagnostics;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The real <c>puzzle</c> CLI as a child process (the one built beside the tests).</summary>
public static class Cli
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "puzzle.dll");

    /// <summary>Build configuration of this test run (Debug or Release), read off the output path.</summary>
    public static string Configuration => AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    public static Process Start(string workingDirectory, params string[] args) => StartProcess("dotnet", workingDirectory, [Dll, .. args]);

    public static Process StartProcess(string file, string workingDirectory, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        return Process.Start(start)!;
    }

    /// <summary>
    /// Starts a job process and SIGKILLs it once <paramref name="checkpoint"/> exists (within 120 s), as a crash mid-way
    /// through training would; fails if the job ended first or never checkpointed.
    /// </summary>
    public static void KillOnceCheckpointed(string workingDirectory, string[] job, string checkpoint)
    {
        using var process = Start(workingDirectory, job);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        // waits on the process's exit, looking for the checkpoint every 20 ms, until the deadline
        while (!File.Exists(checkpoint) && DateTime.UtcNow < deadline && !process.WaitForExit(20)) { }
        var exited = process.HasExited; // (the output is read only after the kill: reading it waits for the end)
        process.Kill(); // SIGKILL
        process.WaitForExit();
        Assert.True(File.Exists(checkpoint) && !exited, "no checkpoint before the job ended: " + process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd());
    }

    public static (int Exit, string Out, string Err) Run(string workingDirectory, params string[] args) =>
        Wait(Start(workingDirectory, args));

    /// <summary>As <see cref="Run(string, string[])"/>, with these variables added to the process's environment.</summary>
    public static (int Exit, string Out, string Err) Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        Wait(StartProcess("dotnet", workingDirectory, [Dll, .. args], environment));

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
