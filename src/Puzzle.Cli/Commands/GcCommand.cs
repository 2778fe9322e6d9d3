using System.CommandLine;
using Puzzle.Engine.Pipeline.Cache;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle gc PIPELINE... [--dry-run]</c>: removes what none of the given pipelines' current graphs reach.</summary>
public static class GcCommand
{
    public static Command Create()
    {
        var specs = new Argument<FileInfo[]>("pipelines") { Description = "the pipeline specs whose current entries to keep (at least one)", Arity = ArgumentArity.ZeroOrMore };
        var store = PipelineOptions.Store();
        var devices = new Option<string[]>("--device")
        {
            Description = "plan the specs for this device too (repeat it): entries built with `run --device X` are kept only when gc is given X (default: each spec's device)",
        };
        devices.AcceptOnlyFromAmong("cpu", "cuda");
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "print what would be removed and remove nothing" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "one line per removed entry, resume folder or temporary" };
        var command = new Command("gc", "Remove cache entries, resume folders and stale temporaries that no given pipeline's current graph reaches")
            { specs, store, devices, dryRun, verbose };
        command.SetAction(parse =>
        {
            var given = parse.GetValue(specs) ?? [];
            var deviceList = parse.GetValue(devices) is { Length: > 0 } d ? d.Select(x => (string?)x).ToArray() : [null];
            var sessions = given.SelectMany(spec => deviceList.Select(device => PipelineOptions.Open(spec, parse.GetValue(store), device))).ToList();
            Console.Write(StoreCollector.Collect(sessions, parse.GetValue(dryRun)).ToText(parse.GetValue(verbose)));
            return 0;
        });
        return command;
    }
}
