using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Engine.Tests.Pipeline;

[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class SearchErrorTests
{
    [Fact]
    public async Task Constraints_no_architecture_meets_are_one_clear_line_and_a_non_zero_exit_not_a_crash()
    {
        // modelled costs: the limit is out of reach whatever this machine's load
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("throughput_vs_parent: 1.5", "throughput_vs_parent: 100")
            + "\nscenario: { target: h100-sxm, batch: 2, prompt: 16, generate: 4 }\n");
        var session = PipelineSession.Open(repo.SpecPath);
        var upstream = await session.RunAsync("Measure", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(upstream.Succeeded);
        await session.RunAsync("Score", session.InProcessLauncher(), TextWriter.Null);

        var (exit, _, err) = Cli.Run(repo.Root, "job", repo.SpecPath, "--stage", "Search", "--id", "b2", "--threads", "1");
        Assert.Equal(1, exit);
        Assert.StartsWith("error: no architecture meets \"throughput ≥ 100× parent\"", err.Trim());
        Assert.DoesNotContain("   at ", err); // no stack trace
        Assert.Null(session.Store.Find(session.Graph.Find("Search", "b2").Key));
    }
}
