using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Pipeline;

[Collection(nameof(ConsoleCollection))]
public sealed class StageNameTests
{
    [Fact]
    public void A_misspelt_target_suggests_the_stage()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);

        var (exit, _, err) = CliRunner.Run("status", repo.SpecPath, "--target", "Serach");

        Assert.Equal(1, exit);
        Assert.StartsWith("error: unknown stage 'Serach' (did you mean 'Search'?); stages: Fetch, Tokenizer, Data, Parent,", err);
        var (_, _, far) = CliRunner.Run("status", repo.SpecPath, "--target", "Bogus");
        Assert.StartsWith("error: unknown stage 'Bogus'; stages: ", far);
        Assert.Equal(0, CliRunner.Run("status", repo.SpecPath, "--target", "search").Exit);
    }
}
