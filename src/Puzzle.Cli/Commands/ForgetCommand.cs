using System.CommandLine;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle forget PIPELINE STAGE... [--target STAGE]</c>: removes what <c>puzzle run --rerun STAGE</c> removes
/// before it runs, and runs nothing, so that the next build of any front end (MSBuild's <c>PuzzleRerun</c> calls it) runs
/// those jobs again.</summary>
public static class ForgetCommand
{
    public static Command Create()
    {
        var pipeline = new PipelineArguments();
        var stages = new Argument<string[]>("stage")
        {
            Description = "stages whose cached jobs go, with every job after them (e.g. Measure, after timings taken on a busy or another machine); comma-separated or several",
            Arity = ArgumentArity.OneOrMore,
        };
        var target = PipelineOptions.Target();
        target.Description = "the stage the next run builds: only the jobs it needs go (default: all)";
        var command = new Command("forget", "Remove stages' cached jobs and every job after them, so that the next run builds them again; nothing runs")
            { pipeline.Spec, stages, target, pipeline.Store, pipeline.Device };
        command.SetAction(parse =>
        {
            var named = PipelineOptions.Stages(parse.GetValue(stages), "a stage");
            pipeline.Open(parse).Forget(named, parse.GetValue(target), Console.Out);
            return 0;
        });
        return command;
    }
}
