using System.CommandLine;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle show PIPELINE STAGE/JOB</c>: where a job's output lies, its metrics and its log.</summary>
public static class ShowCommand
{
    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var job = new Argument<string>("job") { Description = "STAGE/JOB, e.g. Parent/parent or Heal/child1 (puzzle graph lists them)" };
        var command = new Command("show", "Show where a job's output lies (e.g. the parent's model folder), its metrics and its log") { pipeline.Spec, job, pipeline.Store, pipeline.Device };
        command.SetAction(parse =>
        {
            var session = pipeline.Open(parse);
            var (stage, id) = SplitJob(parse.GetValue(job)!);
            Console.Write(JobDetails.Describe(session, session.Graph.Find(stage, id)));
            return 0;
        });
        return command;
    }

    /// <summary>"Distill/layer0.ffn.linear" → (Distill, layer0.ffn.linear); a stage with one job may leave the job out.</summary>
    public static (string Stage, string Id) SplitJob(string name)
    {
        var slash = name.IndexOf('/');
        if (slash <= 0 || slash == name.Length - 1)
            throw new ArgumentException($"'{name}' is not STAGE/JOB (e.g. Parent/parent, Heal/child1); `puzzle graph PIPELINE` lists the jobs");
        return (name[..slash], name[(slash + 1)..]);
    }
}
