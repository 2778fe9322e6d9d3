using System.CommandLine;
using Puzzle.Engine.Runtime;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle job PIPELINE --stage S --id ID</c>: run one job into the store (what executors launch).</summary>
public static class JobCommand
{
    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var stage = new Option<string>("--stage") { Required = true, Description = "stage name" };
        var id = new Option<string>("--id") { Required = true, Description = "job id within the stage" };
        var key = new Option<string?>("--key") { Description = "the key the launcher planned: refuse to run if the spec now plans another" };
        var threads = new Option<int?>("--threads") { Description = "torch threads" };
        var command = new Command("job", "Run one pipeline job into the cache store (used by the executors)") { pipeline.Spec, pipeline.Store, pipeline.Device, stage, id, key, threads };
        command.SetAction(parse =>
        {
            var n = parse.GetValue(threads) ?? Environment.ProcessorCount;
            if (Environment.GetEnvironmentVariable(TorchRuntime.ThreadsInputVariable) == "1") TorchRuntime.ListenForThreads(Console.In);
            var session = pipeline.Open(parse);
            // a stage that uses no tensors does not load libtorch; the others load it (and fail with its remedy) first
            if (session.Graph.Find(parse.GetValue(stage)!, parse.GetValue(id)!).Stage.UsesTorch) TorchRuntime.EnsureLoaded(n);
            else TorchRuntime.UseThreads(n);
            var (entry, ran) = session.RunJob(parse.GetValue(stage)!, parse.GetValue(id)!, parse.GetValue(key), n, Console.Out);
            Console.WriteLine($"{(ran ? "published" : "cached")} {entry.Manifest.Stage}/{entry.Manifest.Job} {entry.Directory}");
            return 0;
        });
        return command;
    }
}
