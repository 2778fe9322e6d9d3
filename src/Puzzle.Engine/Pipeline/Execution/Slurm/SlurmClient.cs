using System.ComponentModel;
using System.Diagnostics;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>
/// The three Slurm commands the executor needs, run as processes: <c>sbatch</c> to submit an array, <c>squeue</c> to
/// see its tasks (one call for all of a run's arrays; no <c>sacct</c>, which needs slurmdbd), <c>scancel</c> to stop them.
/// </summary>
public sealed class SlurmClient
{
    public static readonly string[] Commands = ["sbatch", "squeue", "scancel"];

    /// <summary>Fails with a clear message when a Slurm command is not on PATH, before anything is submitted.</summary>
    public static void RequireOnPath()
    {
        var path = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var command in Commands)
            if (!path.Any(dir => File.Exists(Path.Combine(dir, command))))
                throw new InvalidOperationException(
                    $"the Slurm executor (executor.kind: slurm, or --executor slurm) needs Slurm's {command}, which is not on PATH: run on a machine with Slurm's client commands " +
                    "(a login node), or run with --executor local");
    }

    /// <summary>Submits a batch script with <paramref name="arguments"/> (sbatch options, the script, its arguments); returns the job id.</summary>
    public string Submit(IReadOnlyList<string> arguments)
    {
        var (exit, output, error) = Run("sbatch", ["--parsable", .. arguments]);
        if (exit != 0) throw new SlurmException("sbatch", error.Trim().Length > 0 ? error.Trim() : output.Trim());
        var id = output.Trim().Split(';')[0]; // --parsable prints "jobid" or "jobid;cluster"
        if (id.Length == 0 || !id.All(char.IsAsciiDigit)) throw new SlurmException("sbatch", $"unexpected reply '{output.Trim()}'");
        return id;
    }

    /// <summary>
    /// The tasks Slurm still knows of these arrays, by task id (<c>ARRAY_INDEX</c>): their state (PENDING, RUNNING,
    /// COMPLETED, FAILED, CANCELLED, ...) and the reason for it (why a pending task waits: Priority, Resources,
    /// PartitionTimeLimit, ...; "None" for most others). Finished tasks drop out after the cluster's MinJobAge.
    /// </summary>
    public IReadOnlyDictionary<string, QueuedTask> Queue(IEnumerable<string> arrayJobIds)
    {
        var ids = string.Join(",", arrayJobIds);
        if (ids.Length == 0) return new Dictionary<string, QueuedTask>();
        var (exit, output, error) = Run("squeue", ["--noheader", "--array", "--states=all", "--format=%i|%T|%r", "--jobs=" + ids]);
        // squeue fails when none of the ids is known any more: every task has long finished
        if (exit != 0 && error.Contains("Invalid job id", StringComparison.OrdinalIgnoreCase)) return new Dictionary<string, QueuedTask>();
        if (exit != 0) throw new SlurmException("squeue", error.Trim());
        var tasks = new Dictionary<string, QueuedTask>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (line.Split('|', 3) is [var task, var state, var reason]) tasks[task] = new QueuedTask(state, reason);
        return tasks;
    }

    /// <summary>Cancels jobs, whole arrays or single tasks (<c>ARRAY_INDEX</c>).</summary>
    public void Cancel(IEnumerable<string> jobIds)
    {
        var ids = jobIds.ToList();
        if (ids.Count == 0) return;
        var (exit, _, error) = Run("scancel", ids);
        if (exit != 0 && !error.Contains("Invalid job id", StringComparison.OrdinalIgnoreCase)) throw new SlurmException("scancel", error.Trim());
    }

    static (int Exit, string Output, string Error) Run(string command, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {command}"); }
        catch (Win32Exception) { throw new InvalidOperationException($"Slurm's {command} is not on PATH"); }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill();
                throw new SlurmException(command, "did not answer within 2 minutes");
            }
            return (process.ExitCode, output.Result, error.Result);
        }
    }
}

/// <summary>A task as squeue shows it: its state and the reason for it.</summary>
public sealed record QueuedTask(string State, string Reason);
