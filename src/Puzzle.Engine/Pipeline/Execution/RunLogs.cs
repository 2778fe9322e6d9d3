using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// Job logs of one run. Each launched job writes its own private log beside <c>logs/PIPELINE/STAGE/JOB.log</c>; when it
/// finishes, a run that did the work (built or failed) renames it over <c>JOB.log</c>, and a run that only waited on the
/// key's lock while another run built the job throws its log away. So two runs on one store never truncate each other's
/// logs, and <c>JOB.log</c> is always one complete log of the run that last did the work. A killed run's private log
/// carries its process id and is removed by the next run that starts the same job.
/// </summary>
public sealed class RunLogs(string storeRoot, string pipeline)
{
    readonly Dictionary<JobPlan, string> _private = [];

    public string PathOf(JobPlan job) => Path.Combine(storeRoot, "logs", pipeline, job.Stage.Name, job.Id + ".log");

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

    /// <summary>Publishes the job's private log as its log when this run did the work, else drops it; returns the log.</summary>
    public string Finish(JobPlan job, bool didTheWork)
    {
        string path;
        lock (_private)
        {
            if (!_private.Remove(job, out path!)) return PathOf(job);
        }
        if (!File.Exists(path)) return PathOf(job);
        if (didTheWork) File.Move(path, PathOf(job), overwrite: true);
        else File.Delete(path);
        return PathOf(job);
    }
}
