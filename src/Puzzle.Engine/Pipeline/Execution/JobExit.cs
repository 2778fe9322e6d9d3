namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// What a job process's exit code tells its launcher beyond success and failure.
/// </summary>
public static class JobExit
{
    /// <summary>
    /// A filesystem error that may pass (sysexits.h's EX_TEMPFAIL): an I/O error, a stale file handle, a mount that
    /// stopped answering. The same job may succeed in a new process, on another node or a moment later: the local
    /// executor and MSBuild's task start it once more, <see cref="RetryDelay"/> later, Slurm submits it again (within <c>executor.slurm.retries</c>); any
    /// other failure of the job's own would come back.
    /// </summary>
    public const int PassingError = 75;

    /// <summary>
    /// How long the local executor and MSBuild's task wait before they start a job that ended on
    /// <see cref="PassingError"/> once more. Started at once, it would most often meet the same error: a mount that
    /// stopped answering rarely answers again within milliseconds. 15 s is a chosen value, not a measured one: time for a
    /// dropped connection to be made again or a server to fail over, little beside a job's minutes. The wait ends at once
    /// when the run is cancelled. Slurm's resubmission waits without it: a task is resubmitted at the second look at the
    /// queue that finds it ended (<c>executor.slurm.poll_seconds</c> apart, 10 s by default), and then waits in Slurm's
    /// queue, maybe for another node.
    /// </summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(15);

    /// <summary>The line that says a job ended on <see cref="PassingError"/> and when it starts again, as both launchers
    /// that start it again say it.</summary>
    public static string Retrying(string job, TimeSpan delay) =>
        $"{job}: exit {PassingError}, a filesystem error that may pass; starting it again in " +
        (delay >= TimeSpan.FromSeconds(1) ? $"{Math.Round(delay.TotalSeconds):0} s" : $"{Math.Round(delay.TotalMilliseconds):0} ms");

    // Linux's errno numbers: EIO, ECONNRESET, ENOTCONN, ETIMEDOUT, EHOSTDOWN, ESTALE
    static readonly int[] PassingErrnos = [5, 104, 107, 110, 112, 116];

    /// <summary>Whether <paramref name="error"/>, or an error it wraps, is an <see cref="IOException"/> of an errno that
    /// may pass (.NET gives such an exception its errno as <see cref="Exception.HResult"/> on Linux). A file that is
    /// missing, a disk that is full or a path refused is not: it would be so again.</summary>
    public static bool MayPass(Exception error)
    {
        if (!OperatingSystem.IsLinux()) return false;
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is AggregateException all) return all.InnerExceptions.Any(MayPass);
            if (e.GetType() == typeof(IOException) && PassingErrnos.Contains(e.HResult)) return true;
        }
        return false;
    }
}
