namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// What a job process's exit code tells its launcher beyond success and failure.
/// </summary>
public static class JobExit
{
    /// <summary>
    /// A filesystem error that may pass (sysexits.h's EX_TEMPFAIL): an I/O error, a stale file handle, a mount that
    /// stopped answering. The same job may succeed in a new process, on another node or a moment later: the local
    /// executor and MSBuild's task start it once more, Slurm submits it again (within <c>executor.slurm.retries</c>); any
    /// other failure of the job's own would come back.
    /// </summary>
    public const int PassingError = 75;

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
