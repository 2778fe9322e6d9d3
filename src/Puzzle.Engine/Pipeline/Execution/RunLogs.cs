using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// Job logs of one run. Each launched job writes its own private log beside <c>logs/PIPELINE/STAGE/JOB.log</c>. When it
/// finishes, a run that built the job renames it over <c>JOB.log</c>; a failed attempt renames it over
/// <c>JOB.failed.log</c>, so it never replaces the log of a result that is in the store; and a run that only waited on the
/// key's lock while another run built the job throws its log away. So two runs on one store never truncate each other's
/// logs, and <c>JOB.log</c> is always one complete log of the run that last built the job. A killed run's private log
/// carries its process id and is removed by the next run that starts the same job.
/// </summary>
public sealed class RunLogs(string storeRoot, string pipeline)
{
    readonly Dictionary<JobPlan, string> _private = [];

    public enum Outcome { Built, Failed, Waited }

    public string PathOf(JobPlan job) => Path.Combine(storeRoot, "logs", pipeline, job.Stage.Name, job.Id + ".log");

    /// <summary>Where the last failed attempt of <paramref name="job"/> left its log.</summary>
    public string FailedPathOf(JobPlan job) => Path.ChangeExtension(PathOf(job), ".failed.log");

    /// <summary>
    /// What the console shows of a failed job's log: <paramref name="lines"/> lines from its error (the first line of an
    /// unhandled exception, or a line the job wrote as <c>error:</c>), so the message and the frames where it was
    /// raised come first, not the end of a long stack; the last lines when there is no such line.
    /// </summary>
    public static IReadOnlyList<string> FailureExcerpt(string path, int lines = 15)
    {
        if (!File.Exists(path)) return [];
        var all = File.ReadAllLines(path);
        var error = Array.FindIndex(all, l => l.StartsWith("Unhandled exception", StringComparison.Ordinal) || l.StartsWith("error: ", StringComparison.Ordinal));
        return error < 0 ? all.TakeLast(lines).ToList() : all.Skip(error).Take(lines).ToList();
    }

    /// <summary>A fresh private log for <paramref name="job"/> in this run.</summary>
    public string Start(JobPlan job)
    {
        var final = PathOf(job);
        var folder = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(folder);
        AtomicDirectory.CleanStale(folder, Path.GetFileName(final));
        var path = Path.Combine(folder, AtomicDirectory.StagingName(Path.GetFileName(final), "tmp"));
        lock (_private) _private[job] = path;
        return path;
    }

    /// <summary>The line that ends the log of a job the run stopped (cancelled, or its executor failed), before the why.</summary>
    public const string StoppedLine = "== puzzle: stopped: ";

    /// <summary>Whether the run stopped the attempt that wrote <paramref name="log"/> (<see cref="StoppedLine"/> ends it)
    /// rather than it failing.</summary>
    public static bool WasStopped(string log) => File.ReadLines(log).LastOrDefault()?.StartsWith(StoppedLine, StringComparison.Ordinal) == true;

    /// <summary>How the last attempt at <paramref name="job"/> ended when it built nothing since: "failed" or "was
    /// stopped"; null when its newest log is of a run that built it, or it has none.</summary>
    public string? LastAttemptFailed(JobPlan job)
    {
        var (built, failed) = (PathOf(job), FailedPathOf(job));
        if (!File.Exists(failed) || File.Exists(built) && File.GetLastWriteTimeUtc(built) > File.GetLastWriteTimeUtc(failed)) return null;
        return WasStopped(failed) ? "was stopped" : "failed";
    }

    /// <summary>Ends the private log of a job the run stopped with <see cref="StoppedLine"/> and
    /// <paramref name="why"/> (its process, killed, wrote nothing more), and keeps it as the job's failed log.</summary>
    public string Stop(JobPlan job, string why)
    {
        string? path;
        lock (_private) path = _private.GetValueOrDefault(job);
        if (path is not null) File.AppendAllText(path, StoppedLine + why + "\n");
        return Finish(job, Outcome.Failed);
    }

    /// <summary>Publishes the job's private log by how the job ended (see the class); returns the log to show.</summary>
    public string Finish(JobPlan job, Outcome outcome)
    {
        var target = outcome == Outcome.Failed ? FailedPathOf(job) : PathOf(job);
        string path;
        lock (_private)
        {
            if (!_private.Remove(job, out path!)) return target;
        }
        if (!File.Exists(path)) return target;
        // the private log is the temporary: a job process wrote it while it ran (AtomicFile's writes are one call), under
        // AtomicDirectory's staging name, so publishing it is the rename alone
        switch (outcome)
        {
            case Outcome.Built:
                File.Move(path, target, overwrite: true);
                File.Delete(FailedPathOf(job)); // the failure it followed is fixed
                break;
            case Outcome.Failed: File.Move(path, target, overwrite: true); break;
            default: File.Delete(path); break;
        }
        return target;
    }
}
