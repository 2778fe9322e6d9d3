using System.CommandLine;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle run PIPELINE [--target STAGE]</c>: build what is missing or stale, reuse what is cached.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var spec = PipelineOptions.Spec();
        var target = PipelineOptions.Target();
        var store = PipelineOptions.Store();
        var device = PipelineOptions.Device();
        var inProcess = new Option<bool>("--in-process") { Description = "run jobs on threads of this process instead of child processes" };
        var jobs = new Option<int?>("--jobs") { Description = "parallel jobs (default: the spec's executor.jobs)" };
        var threads = new Option<int?>("--threads-per-job") { Description = "torch threads per job (default: the cores divided between the jobs)" };
        var command = new Command("run", "Run a pipeline up to a stage; only jobs whose key changed run again") { spec, target, store, device, inProcess, jobs, threads };
        command.SetAction((parse, cancel) =>
        {
            var session = PipelineOptions.Open(parse.GetValue(spec)!, parse.GetValue(store), parse.GetValue(device));
            IJobLauncher launcher = parse.GetValue(inProcess)
                ? session.InProcessLauncher()
                : new ProcessJobLauncher(PipelineOptions.SelfCommand(), session.Spec.SourcePath, session.Store.Root, Console.Error,
                    PipelineOptions.JobArguments(parse.GetValue(device)));
            if (parse.GetValue(jobs) is < 1 or > 64) throw new ArgumentException($"--jobs must be between 1 and 64, got {parse.GetValue(jobs)}");
            if (parse.GetValue(threads) is < 1) throw new ArgumentException($"--threads-per-job must be at least 1, got {parse.GetValue(threads)}");
            var summary = session.RunAsync(parse.GetValue(target), launcher, Console.Error, cancel, parse.GetValue(jobs), parse.GetValue(threads))
                .GetAwaiter().GetResult();
            Console.WriteLine($"{summary.Pipeline}: {summary.Where(JobOutcome.Ran).Count()} ran, {summary.Where(JobOutcome.Cached).Count()} cached, " +
                              $"{summary.Where(JobOutcome.Failed).Count()} failed, {summary.Where(JobOutcome.Skipped).Count()} skipped in {summary.Seconds:F1} s");
            return Task.FromResult(summary.Succeeded ? 0 : 1);
        });
        return command;
    }
}
