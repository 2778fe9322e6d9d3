using System.CommandLine;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle log PIPELINE STAGE/JOB [--built|--failed]</c>: prints a job's last log.</summary>
public static class LogCommand
{
    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var job = new Argument<string>("job") { Description = "STAGE/JOB, e.g. Parent/parent or Heal/child1 (puzzle graph lists them)" };
        var built = new Option<bool>("--built") { Description = "the log of the run that built the cached result, even if a later attempt failed" };
        var failed = new Option<bool>("--failed") { Description = "the log of the last failed attempt" };
        var command = new Command("log", "Print a job's last log (the newer of its built and failed logs, unless --built or --failed)") { pipeline.Spec, job, pipeline.Store, pipeline.Device, built, failed };
        command.SetAction(parse =>
        {
            if (parse.GetValue(built) && parse.GetValue(failed)) throw new ArgumentException("--built and --failed pick one log each: give one of them");
            var session = pipeline.Open(parse);
            var (stage, id) = ShowCommand.SplitJob(parse.GetValue(job)!);
            var pick = parse.GetValue(built) ? JobLog.Pick.Built : parse.GetValue(failed) ? JobLog.Pick.Failed : JobLog.Pick.Newest;
            var choice = JobLog.Find(session, session.Graph.Find(stage, id), pick);
            if (choice.Note is { } note) Console.Error.WriteLine($"note: {note}");
            using (var reader = File.OpenText(choice.Path)) Console.Out.Write(reader.ReadToEnd());
            return 0;
        });
        return command;
    }
}
