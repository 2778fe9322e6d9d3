using System.CommandLine;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle search PIPELINE [--explain]</c>: build up to the Search stage and show the chosen architectures.</summary>
public static class SearchCommand
{
    public static Command Create()
    {
        var spec = PipelineOptions.Spec();
        var store = PipelineOptions.Store();
        var device = PipelineOptions.Device();
        var explain = new Option<bool>("--explain") { Description = "per layer, the chosen attention and FFN variant with its score and cost" };
        var command = new Command("search", "Run the pipeline up to Search and show the chosen architectures") { spec, store, device, explain };
        command.SetAction((parse, outer) =>
        {
            using var interrupt = new Interrupt(outer);
            var cancel = interrupt.Token;
            var session = PipelineOptions.Open(parse.GetValue(spec)!, parse.GetValue(store), parse.GetValue(device));
            var launcher = PipelineOptions.Launcher(session, executor: null, device: parse.GetValue(device));
            RunSummary summary;
            try { summary = session.RunAsync("Search", launcher, Console.Error, cancel).GetAwaiter().GetResult(); }
            finally { (launcher as IDisposable)?.Dispose(); }
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
