using Puzzle.Cli;

namespace Puzzle.Engine.Tests.Cli;

/// <summary>The pipeline verbs open their session from the same spec argument, --store and --device (PipelineArguments).</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class PipelineVerbTests
{
    [Theory]
    [InlineData("run")]
    [InlineData("status")]
    [InlineData("search")]
    [InlineData("graph")]
    [InlineData("job")]
    [InlineData("show")]
    [InlineData("log")]
    public void A_pipeline_verb_takes_the_spec_first_then_store_and_device(string verb)
    {
        var command = PuzzleApp.Build().Subcommands.Single(c => c.Name == verb);
        Assert.Equal("pipeline", command.Arguments[0].Name);
        Assert.Contains(command.Options, o => o.Name == "--store");
        var device = command.Options.Single(o => o.Name == "--device");
        // the same option everywhere: a job process is told the launcher's --device, whatever verb started it
        Assert.Equal("compute device instead of the spec's device: cpu or cuda (scenario.device still wins for costs)", device.Description);
    }

    [Fact]
    public void A_missing_spec_is_named_and_fails()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"puzzle-no-such-spec-{Guid.NewGuid():N}.yaml");
        foreach (var args in new[] { new[] { "graph", missing }, ["status", missing], ["report", missing] })
        {
            var (exit, _, err) = CliRunner.Run(args);
            Assert.Equal(1, exit);
            Assert.Contains($"{missing}: pipeline spec not found", err);
        }
    }

    [Fact]
    public void A_folder_given_as_the_spec_is_named_as_a_folder_with_the_specs_in_it()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["pipelines"]);
        File.WriteAllText(dir["pipelines/b.yaml"], "");
        File.WriteAllText(dir["pipelines/a.yaml"], "");
        foreach (var args in new[] { new[] { "graph", dir["pipelines"] }, ["status", dir["pipelines"]], ["report", dir["pipelines"]] })
        {
            var (exit, _, err) = CliRunner.Run(args);
            Assert.Equal(1, exit);
            Assert.Contains($"{Path.GetFullPath(dir["pipelines"])} is a folder; give a pipeline spec file in it: a.yaml, b.yaml", err);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData(",")]
    public void A_rerun_that_names_no_stage_is_an_error_and_nothing_runs(string rerun)
    {
        using var repo = new Pipeline.TestRepo(Pipeline.TestRepo.MicroSpec);

        var (exit, _, err) = CliRunner.Run("run", repo.SpecPath, "--target", "Tokenizer", "--in-process", "--rerun", rerun);

        Assert.Equal(1, exit);
        Assert.Contains($"error: --rerun '{rerun}' names no stage; give one or more, e.g. --rerun Measure", err);
        Assert.False(Directory.Exists(repo.Store), "nothing may have run");
    }
}
