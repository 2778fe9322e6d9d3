using System.Globalization;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// <c>puzzle log</c>: which of a job's logs to show. <c>JOB.log</c> is the log of the run that last built the job,
/// <c>JOB.failed.log</c> that of the last failed attempt (see <see cref="RunLogs"/>); by default the newer one, with a
/// note when the other exists, so a user who asks right after a failure sees the failure.
/// </summary>
public static class JobLog
{
    public enum Pick { Newest, Built, Failed }

    /// <param name="Note">what the user should know about the choice (e.g. the last attempt failed), or null</param>
    public sealed record Choice(string Path, string? Note);

    public static Choice Find(PipelineSession session, JobPlan job, Pick pick)
    {
        var logs = new RunLogs(session.Store.Root, session.Spec.Name);
        var (built, failed) = (logs.PathOf(job), logs.FailedPathOf(job));
        var (hasBuilt, hasFailed) = (File.Exists(built), File.Exists(failed));
        string When(string path) => File.GetLastWriteTimeUtc(path).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC";
        switch (pick)
        {
            case Pick.Built when hasBuilt:
                return new(built, null);
            case Pick.Built:
                throw new FileNotFoundException($"{job.Name} has no log of a run that built it ({built})" +
                                                (hasFailed ? "; its last attempt failed: puzzle log ... --failed" : "; it never ran with this store"));
            case Pick.Failed when hasFailed:
                return new(failed, null);
            case Pick.Failed:
                throw new FileNotFoundException($"{job.Name} has no failed attempt on record ({failed})");
        }
        if (!hasBuilt && !hasFailed)
            throw new FileNotFoundException($"{job.Name} has no log yet: it never ran with the store {session.Store.Root} " +
                                            $"(puzzle run {session.Spec.SourcePath} --target {job.Stage.Name})");
        if (hasFailed && (!hasBuilt || File.GetLastWriteTimeUtc(failed) >= File.GetLastWriteTimeUtc(built)))
            return new(failed, $"the last attempt of {job.Name} {(RunLogs.WasStopped(failed) ? "was stopped" : "failed")} ({When(failed)}): showing {failed}" +
                               (hasBuilt ? $"; the log of the run that built it ({When(built)}): --built" : ""));
        return new(built, hasFailed ? $"an older attempt {(RunLogs.WasStopped(failed) ? "was stopped" : "failed")} ({When(failed)}): --failed shows it" : null);
    }
}
