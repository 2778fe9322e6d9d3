using System.CommandLine;
using System.Text.Json;
using Puzzle.Engine.Pipeline.Cache;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle graph PIPELINE [--json]</c>: the stages, what each depends on, and its jobs (front ends build their tasks from it).</summary>
public static class GraphCommand
{
    public static Command Create()
    {
        var spec = PipelineOptions.Spec();
        var store = PipelineOptions.Store();
        var device = PipelineOptions.Device();
        var json = new Option<bool>("--json") { Description = "print JSON: {pipeline, store, stages: [{name, description, upstream, jobs: [{id, key, inputs}]}]}" };
        var command = new Command("graph", "Show the pipeline's stages and jobs") { spec, store, device, json };
        command.SetAction(parse =>
        {
            var session = PipelineOptions.Open(parse.GetValue(spec)!, parse.GetValue(store), parse.GetValue(device));
            var graph = session.Graph;
            if (parse.GetValue(json))
            {
                var doc = new
                {
                    pipeline = session.Spec.Name, spec = session.Spec.SourcePath, store = session.Store.Root,
                    stages = graph.Stages.Select(s => new
                    {
                        name = s.Name, description = s.Description, upstream = s.Upstream,
                        jobs = graph.Jobs[s.Name].Select(j => new { id = j.Id, key = j.Key, inputs = j.Inputs.ToDictionary(i => i.Key, i => i.Value.Name) }),
                    }),
                };
                Console.WriteLine(JsonSerializer.Serialize(doc, JobManifest.Json));
                return 0;
            }
            foreach (var s in graph.Stages)
            {
                Console.WriteLine($"{s.Name}  ({s.Description}){(s.Upstream.Count > 0 ? " ← " + string.Join(", ", s.Upstream) : "")}");
                foreach (var j in graph.Jobs[s.Name]) Console.WriteLine($"  {j.Id}  {j.Key[..12]}");
            }
            return 0;
        });
        return command;
    }
}
