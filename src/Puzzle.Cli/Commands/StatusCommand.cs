using System.CommandLine;
using System.Text.Json;
using Puzzle.Engine.Pipeline.Cache;
using Spectre.Console;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle status PIPELINE [--json]</c>: per job, cached / stale (and why) / missing.</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var spec = PipelineOptions.Spec();
        var target = PipelineOptions.Target();
        var store = PipelineOptions.Store();
        var device = PipelineOptions.Device();
        var json = new Option<bool>("--json") { Description = "print JSON: {pipeline, jobs: [{stage, job, state, reason, key}]}" };
        var command = new Command("status", "Show which jobs are cached, stale (and why) or missing") { spec, target, store, device, json };
        command.SetAction(parse =>
        {
            var session = PipelineOptions.Open(parse.GetValue(spec)!, parse.GetValue(store), parse.GetValue(device));
            var jobs = session.Status(parse.GetValue(target));
            if (parse.GetValue(json))
            {
                var doc = new
                {
                    pipeline = session.Spec.Name,
                    jobs = jobs.Select(j => new { stage = j.Stage, job = j.Job, state = j.State.ToString().ToLowerInvariant(), reason = j.Reason, key = j.Key }),
                };
                Console.WriteLine(JsonSerializer.Serialize(doc, JobManifest.Json));
                return 0;
            }
            var table = new Table().AddColumns("stage", "job", "state", "reason");
            foreach (var j in jobs)
                table.AddRow(Markup.Escape(j.Stage), Markup.Escape(j.Job), j.State.ToString().ToLowerInvariant(), Markup.Escape(j.Reason));
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
