using System.CommandLine;
using Puzzle.Engine.Packaging;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle verify PACKAGE</c>: checks a model package (.nupkg or extracted folder) against its provenance manifest.</summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var package = new Argument<string>("package") { Description = "a model package (.nupkg) or the folder it was extracted to" };
        var command = new Command("verify", "Check a model package's files against its provenance manifest and its model as a checkpoint") { package };
        command.SetAction(parse =>
        {
            var provenance = PackagedModel.Check(parse.GetValue(package)!);
            Console.WriteLine($"{provenance.Id} {provenance.Version}: {provenance.Model} of pipeline '{provenance.Pipeline}', " +
                              $"{provenance.Files.Count} files verified, {provenance.Jobs.Count} jobs in its provenance");
            Console.WriteLine($"pipeline key {provenance.PipelineKey}");
            return 0;
        });
        return command;
    }
}
