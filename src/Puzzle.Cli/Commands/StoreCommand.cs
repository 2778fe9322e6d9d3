using System.CommandLine;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle store du [--store DIR] [--bytes]</c>: what a store holds, per pipeline and stage.</summary>
public static class StoreCommand
{
    public static Command Create()
    {
        var store = new Option<DirectoryInfo?>("--store") { Description = "cache store (default: .puzzle/ in the current folder)" };
        var bytes = new Option<bool>("--bytes") { Description = "exact byte counts instead of KiB/MiB/GiB" };
        var du = new Command("du", "Show the store's size per pipeline and stage, and of its logs, temporaries and resume folders") { store, bytes };
        du.SetAction(parse =>
        {
            var root = parse.GetValue(store)?.FullName ?? Path.Combine(Environment.CurrentDirectory, ".puzzle");
            Console.Write(StoreUsage.Measure(root, PuzzleStages.All().Select(s => s.Name).ToList()).ToText(parse.GetValue(bytes)));
            return 0;
        });
        return new Command("store", "Inspect the cache store (see also puzzle gc)") { du };
    }
}
