using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>Runs jobs on threads of this process: for tests and for debugging a stage under a debugger.</summary>
public sealed class InProcessJobLauncher(PipelineSpec spec, CacheStore store, JobHistory history, Graph.PipelineGraph? graph = null) : IJobLauncher
{
    /// <remarks>A thread cannot have an environment of its own: <paramref name="gpu"/> only counts here.</remarks>
    public Task<int> LaunchAsync(Graph.JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null) => Task.Run(() =>
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        using var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        try
        {
            JobRunner.Run(job, spec, store, history, log, threads, runId, graph?.Jobs[job.Stage.Name]);
            return 0;
        }
        catch (Exception e)
        {
            // as puzzle job prints it: a full disk's explanation right after the message, before the stack
            var text = e.ToString();
            var head = $"{e.GetType()}: {e.Message}";
            log.WriteLine(DiskFull.Explain(e, store.Root) is not { } full ? $"error: {text}"
                : text.StartsWith(head, StringComparison.Ordinal) ? $"error: {head}\nerror: {full}{text[head.Length..]}"
                : $"error: {text}\nerror: {full}");
            return JobExit.MayPass(e) ? JobExit.PassingError : 1; // as puzzle job exits
        }
    }, cancel);
}
