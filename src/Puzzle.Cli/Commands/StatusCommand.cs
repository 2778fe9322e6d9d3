using System.CommandLine;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle status PIPELINE [STAGE/JOB] [--verbose] [--json] [--rerun STAGE]</c>: per stage (or job), cached / stale (and why) / missing.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var job = new Argument<string?>("job") { Description = "one job (STAGE/JOB, e.g. Distill/layer0.ffn.linear): its state and every reason", Arity = ArgumentArity.ZeroOrOne };
        var target = PipelineOptions.Target();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "one line per job with its reason, instead of one line per stage" };
        var rerun = PipelineOptions.Rerun();
        rerun.Description = "show what `puzzle run --rerun` with these stages would find: their cached jobs, and every cached job after them, stale";
        var json = new Option<bool>("--json") { Description = "print JSON: {pipeline, target, jobs: [{stage, job, key, state (Cached, Stale or Missing), reason}]}" };
        var command = new Command("status", "Show which jobs are cached, stale (and why) or missing") { pipeline.Spec, job, target, pipeline.Store, pipeline.Device, verbose, json, rerun };
        command.SetAction(parse =>
        {
            var rerunStages = PipelineOptions.Stages(parse.GetValue(rerun));
            var session = pipeline.Open(parse);
            var jobs = session.Status(parse.GetValue(target), rerunStages);
            if (parse.GetValue(job) is { } name)
            {
                var (stageName, id) = ShowCommand.SplitJob(name);
                var plan = session.Graph.Find(stageName, id);
                jobs = session.Rerun([PipelineStatus.Of(plan, session.Store, session.History, new RunLogs(session.Store.Root, session.Spec.Name))],
                    parse.GetValue(target), rerunStages);
            }
            if (parse.GetValue(json))
            {
                Console.WriteLine(new StatusDocument(session.Spec.Name, parse.GetValue(job) is null ? TargetName(session, parse.GetValue(target)) : null, jobs).ToJson());
                return 0;
            }
            var detailed = parse.GetValue(verbose) || parse.GetValue(job) is not null;
            Console.Write(detailed ? StatusText.Detailed(jobs) : StatusText.Summary(jobs));
            if (!detailed && jobs.Any(j => j.State != JobState.Cached))
                Console.WriteLine($"per job: puzzle status {parse.GetValue(pipeline.Spec)} --verbose, or puzzle status {parse.GetValue(pipeline.Spec)} STAGE/JOB");
            // a --store that names no store (a typo, or another checkout's path) would show every job never built
            if (!Directory.Exists(session.Store.Root))
                Console.WriteLine($"no store at {session.Store.Root} yet: nothing was built there (a run creates it; --store names another)");
            return 0;
        });
        return command;
    }

    /// <summary>The target's stage name as the graph spells it, or null for every job.</summary>
    static string? TargetName(PipelineSession session, string? target) => target is null ? null : session.Graph.StageNamed(target).Name;
}
