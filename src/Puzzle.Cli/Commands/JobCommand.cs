using System.CommandLine;
using Puzzle.Engine.Runtime;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle job PIPELINE --stage S --id ID</c>: run one job into the store (what executors launch).</summary>
public static class JobCommand
{
    /// <summary>The exit of a job whose launcher went away (128 + SIGHUP, as a terminal's job would end): nobody reads it.</summary>
    public const int LauncherGone = 129;

    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var stage = new Option<string>("--stage") { Required = true, Description = "stage name" };
        var id = new Option<string>("--id") { Required = true, Description = "job id within the stage" };
        var key = new Option<string?>("--key") { Description = "the key the launcher planned: refuse to run if the spec now plans another" };
        var threads = new Option<int?>("--threads") { Description = "torch threads" }.Whole();
        var command = new Command("job", "Run one pipeline job into the cache store (used by the executors)") { pipeline.Spec, pipeline.Store, pipeline.Device, stage, id, key, threads };
        command.SetAction(parse =>
        {
            var n = parse.GetValue(threads) ?? Environment.ProcessorCount;
            // launched by puzzle run's local executor: a job whose run is gone stops (its staging folder and resume state stay
            // for the next run; the key's lock goes with the process)
            if (Environment.GetEnvironmentVariable(TorchRuntime.ThreadsInputVariable) == "1")
                TorchRuntime.ListenForThreads(Console.In, () => TorchRuntime.ExitNow(LauncherGone));
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
