using System.CommandLine;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle search PIPELINE [--explain]</c>: build up to the Search stage and show the chosen architectures.</summary>
public static class SearchCommand
{
    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var explain = new Option<bool>("--explain") { Description = "per layer, the chosen attention and FFN variant with its score and cost" };
        var command = new Command("search", "Run the pipeline up to Search and show the chosen architectures") { pipeline.Spec, pipeline.Store, pipeline.Device, explain };
        command.SetAction((parse, outer) =>
        {
            var session = pipeline.Open(parse);
            var summary = PipelineOptions.Run(session, "Search", outer, device: parse.GetValue(pipeline.Device));
            if (!summary.Succeeded) return Task.FromResult(1);
            // one search, whatever search.batch_sizes lists: its constraints hold at each of them
            var job = session.Graph.Jobs["Search"].Single();
            var entry = session.Store.Find(job.Key)!;
            Console.WriteLine(parse.GetValue(explain)
                ? File.ReadAllText(entry.File(SearchStage.ExplainFile))
                : File.ReadAllText(entry.File(SearchStage.ArchitecturesFile)));
            return Task.FromResult(0);
        });
        return command;
    }
}
