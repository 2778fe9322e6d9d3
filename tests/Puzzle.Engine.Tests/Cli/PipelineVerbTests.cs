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
    [InlineData("forget")]
    public void A_pipeline_verb_takes_the_spec_first_then_store_and_device(string verb)
    {
        var command = PuzzleApp.Build().Subcommands.Single(c => c.Name == verb);
        Assert.Equal("pipeline", command.Arguments[0].Name);
        Assert.Contains(command.Options, o => o.Name == "--store");
        var device = command.Options.Single(o => o.Name == "--device");
        // the same option everywhere: a job process is told the launcher's --device, whatever verb started it
        Assert.Equal("compute device instead of the spec's device: cpu or cuda (scenario.device still wins for costs)", device.Description);
    }

    [Theory]
    [InlineData("run", "--jobs")]
    [InlineData("run", "--threads-per-job")]
    [InlineData("job", "--threads")]
    [InlineData("eval", "--seq-len")]
    [InlineData("eval", "--batch")]
    [InlineData("eval", "--max-sequences")]
    [InlineData("eval", "--threads")]
    [InlineData("logits", "--threads")]
    public void A_number_option_given_a_word_names_the_option_and_what_it_takes_not_a_dotnet_type(string verb, string option)
    {
        var args = verb switch
        {
            "run" => new[] { "run", "ci.yaml", option, "abc" },
            "job" => ["job", "ci.yaml", "--stage", "Parent", "--id", "parent", option, "abc"],
            "eval" => ["eval", "--model", "m", "--data", "d.txt", option, "abc"],
            _ => ["logits", "--model", "m", "--ids", "ids.json", "--out", "o.safetensors", option, "abc"],
        };
        var (exit, _, err) = CliRunner.Run(args);
        Assert.Equal(1, exit);
        Assert.Contains($"{option} takes a whole number, got 'abc'", err);
        Assert.DoesNotContain("System.", err); // before: "as expected type 'System.Nullable`1[System.Int32]'"
    }

    [Fact]
    public void A_number_option_left_out_keeps_its_default()
    {
        Assert.Equal(8, PuzzleApp.Build().Parse(["eval", "--model", "m"]).GetValue<int>("--batch"));
        Assert.Equal(3, PuzzleApp.Build().Parse(["eval", "--model", "m", "--batch", "3"]).GetValue<int>("--batch"));
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

    [Fact]
    public void Forget_names_a_stage_that_is_not_there_and_removes_nothing()
    {
        using var repo = new Pipeline.TestRepo(Pipeline.TestRepo.MicroSpec);
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Tokenizer", "--in-process").Exit);

        var (exit, _, err) = CliRunner.Run("forget", repo.SpecPath, "Tokeniser");
        Assert.Equal(1, exit);
        Assert.Contains("Tokeniser", err);
        Assert.Contains("did you mean 'Tokenizer'", err);
        Assert.Equal(1, CliRunner.Run("forget", repo.SpecPath, ",").Exit);

        var (ok, said, _) = CliRunner.Run("forget", repo.SpecPath, "tokenizer");
        Assert.Equal(0, ok);
        Assert.Contains("rerun Tokenizer: 1 cached entry removed (Tokenizer)", said);
        Assert.Equal(Engine.Pipeline.Execution.JobState.Missing, Assert.Single(Engine.Pipeline.PipelineSession.Open(repo.SpecPath).Status("Tokenizer")).State);
    }

    [Theory]
    [InlineData("puzzle run", "run", "ci.yaml", "--bogus")]
    [InlineData("puzzle store du", "store", "du", "--bogus")]
    [InlineData("puzzle run", "run", "ci.yaml", "--jobs", "abc")]
    public void A_command_line_that_does_not_parse_prints_its_errors_and_where_the_usage_is_not_the_whole_help(string verb, params string[] args)
    {
        var (exit, stdout, err) = CliRunner.Run(args);

        Assert.Equal(1, exit);
        Assert.Contains(args[^1] == "--bogus" ? "Unrecognized command or argument '--bogus'" : "--jobs takes a whole number, got 'abc'", err);
        Assert.EndsWith($"usage: {verb} --help", err.TrimEnd());
        // before, the verb's whole help followed the error, 60 lines for puzzle run
        Assert.DoesNotContain("Options:", stdout + err);
    }

    [Fact]
    public void A_bare_puzzle_still_prints_the_help()
    {
        var (_, stdout, err) = CliRunner.Run();
        Assert.Contains("Commands:", stdout + err);
    }
}
