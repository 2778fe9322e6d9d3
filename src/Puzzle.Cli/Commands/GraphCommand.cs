using System.CommandLine;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Cli.Commands;

/// <summary>
/// <c>puzzle graph PIPELINE [--target STAGE] [--json]</c>: the stages, what each depends on, and the jobs the target
/// needs in the order the executor takes them (front ends build their tasks from the JSON, a <see cref="GraphDocument"/>).
/// </summary>
public static class GraphCommand
{
    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var target = PipelineOptions.Target();
        var json = new Option<bool>("--json")
        {
            Description = "print JSON: {pipeline, spec, store, target, stages: [{name, description, upstream, single_threaded, exclusive, gpu, device_memory, jobs: [{id, key, order, wave, inputs, lead, planned_memory, built}]}]}; a job's lead is the job whose process builds it as well (null: its own process); planned_memory is the bytes its stage plans that process to hold, device_memory what the processes on that device may plan for together; built whether the store holds its entry",
        };
        var command = new Command("graph", "Show the pipeline's stages and the jobs a target needs") { pipeline.Spec, target, pipeline.Store, pipeline.Device, json };
        command.SetAction(parse =>
        {
            var session = pipeline.Open(parse);
            var doc = GraphDocument.Of(session.Graph, session.Store, parse.GetValue(target));
            if (parse.GetValue(json))
            {
                Console.WriteLine(doc.ToJson());
                return 0;
            }
            foreach (var s in doc.Stages)
            {
                Console.WriteLine($"{s.Name}  ({s.Description}){(s.Upstream.Count > 0 ? " ← " + string.Join(", ", s.Upstream) : "")}");
                foreach (var j in s.Jobs)
                    Console.WriteLine($"  {j.Order,4}  {j.Id}  {j.Key[..12]}{(j.Lead is null ? "" : $"  (built with {j.Lead})")}" +
                                      (j.PlannedMemory is { } bytes ? $"  (its process planned at about {StoreUsage.Human(bytes)})" : ""));
            }
            return 0;
        });
        return command;
    }
}
