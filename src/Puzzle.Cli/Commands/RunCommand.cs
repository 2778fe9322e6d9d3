using System.CommandLine;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle run PIPELINE [--target STAGE]</c>: build what is missing or stale, reuse what is cached.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var target = PipelineOptions.Target();
        var executor = PipelineOptions.Executor();
        var inProcess = new Option<bool>("--in-process") { Description = "run jobs on threads of this process instead of child processes" };
        var jobs = new Option<int?>("--jobs") { Description = "parallel jobs (default: the spec's executor.jobs)" }.Whole();
        var threads = new Option<int?>("--threads-per-job") { Description = "torch threads per job (default: the cores divided between the jobs); Fetch, Tokenizer, Report, Pack and Publish take one" }.Whole();
        var record = new Option<FileInfo?>("--summary") { Description = "also write this run's record (every job's outcome, time and log) as JSON to this file" }.ToWrite();
        var rerun = PipelineOptions.Rerun();
        var command = new Command("run", "Run a pipeline up to a stage; only jobs whose key changed run again") { pipeline.Spec, target, pipeline.Store, pipeline.Device, executor, inProcess, jobs, threads, record, rerun };
        command.SetAction((parse, outer) =>
        {
            var rerunStages = PipelineOptions.Stages(parse.GetValue(rerun));
            var session = pipeline.Open(parse);
            if (parse.GetValue(jobs) is < 1 or > 64) throw new ArgumentException($"--jobs must be between 1 and 64, got {parse.GetValue(jobs)}");
            if (parse.GetValue(threads) is < 1) throw new ArgumentException($"--threads-per-job must be at least 1, got {parse.GetValue(threads)}");
            if (parse.GetValue(jobs) is not null && PipelineOptions.Kind(session, parse.GetValue(executor)) == ExecutorKind.Slurm)
                throw new ArgumentException("--jobs limits jobs on this machine; on Slurm, executor.slurm.array_throttle limits the tasks that run at once");
            RunSummary summary;
            try
            {
                summary = PipelineOptions.Run(session, parse.GetValue(target), outer, parse.GetValue(executor), parse.GetValue(inProcess),
                    parse.GetValue(pipeline.Device), parse.GetValue(jobs), parse.GetValue(threads), rerunStages);
            }
            catch (RunCancelledException cancelled)
            {
                Tell(cancelled.Summary, parse.GetValue(record));
                throw;
            }
            Tell(summary, parse.GetValue(record));
            return Task.FromResult(summary.Succeeded ? 0 : 1);
        });
        return command;
    }

    /// <summary>The run's one line on stdout, and its record in <paramref name="file"/> (<c>--summary</c>).</summary>
    static void Tell(RunSummary summary, FileInfo? file)
    {
        var cancelled = summary.Where(JobOutcome.Cancelled).Count();
        Console.WriteLine($"{summary.Pipeline}: {summary.Where(JobOutcome.Ran).Count()} ran, {summary.Where(JobOutcome.Cached).Count()} cached, " +
                          $"{summary.Where(JobOutcome.Failed).Count()} failed, {summary.Where(JobOutcome.Skipped).Count()} skipped" +
                          (cancelled > 0 ? $", {cancelled} cancelled" : "") + $" in {RunSummary.Duration(summary.Seconds)}");
        if (file is not null) AtomicFile.WriteAllText(file.FullName, summary.ToJson());
    }
}
