using System.CommandLine;
using Puzzle.Engine.Pipeline.Cache;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle gc PIPELINE... [--dry-run] [--purge-quarantine]</c>: removes what none of the given pipelines'
/// current graphs reach, leftovers nothing reads again, and damaged entries quarantined over a week ago.</summary>
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
        var purge = new Option<bool>("--purge-quarantine")
        {
            Description = $"remove every damaged entry in quarantine/, not only those set aside over {StoreCollector.QuarantineAge.TotalDays:0} days ago (kept that long for inspection)",
        };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "one line per removed entry, resume folder, temporary or quarantined entry" };
        var command = new Command("gc",
            "Remove cache entries, resume folders and stale temporaries that no given pipeline's current graph reaches, leftovers in tmp/ and trash/ " +
            $"that nothing reads again, and damaged entries set aside in quarantine/ over {StoreCollector.QuarantineAge.TotalDays:0} days ago")
            { specs, store, devices, dryRun, purge, verbose };
        command.SetAction(parse =>
        {
            var given = parse.GetValue(specs) ?? [];
            var deviceList = parse.GetValue(devices) is { Length: > 0 } d ? d.Select(x => (string?)x).ToArray() : [null];
            var sessions = given.SelectMany(spec => deviceList.Select(device => PipelineOptions.Open(spec, parse.GetValue(store), device))).ToList();
            Console.Write(StoreCollector.Collect(sessions, parse.GetValue(dryRun), parse.GetValue(purge)).ToText(parse.GetValue(verbose)));
            return 0;
        });
        return command;
    }
}
