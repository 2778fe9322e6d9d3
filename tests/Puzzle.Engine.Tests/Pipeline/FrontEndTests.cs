using System.Text.Json;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The micro pipeline end to end through the real front ends: Cake (script) and MSBuild (task assembly).</summary>
public class FrontEndTests
{
    static string Source => TestRepo.Source;

    [Fact]
    public void Cake_runs_the_ci_pipeline_end_to_end_and_a_rerun_is_all_cached()
    {
        using var store = new TempDir();
        var restore = Cli.Wait(Cli.StartProcess("dotnet", Source, ["tool", "restore"]));
        Assert.True(restore.Exit == 0, restore.Err + restore.Out);
        string[] cake = ["cake", "build.cake", "--target=Evaluate", "--pipeline=pipelines/ci.yaml", $"--store={store.Path}",
            $"--configuration={Cli.Configuration}", "--no-build"];

        var first = Cli.Wait(Cli.StartProcess("dotnet", Source, cake));
        Assert.True(first.Exit == 0, first.Out + first.Err);
        Assert.Contains("5 ran, 0 cached, 0 failed, 0 skipped", first.Out);

        var session = PipelineSession.Open(Path.Combine(Source, "pipelines", "ci.yaml"), store.Path);
        var eval = session.Store.Find(session.Graph.Find("Evaluate", "parent").Key)!;
        var metrics = JsonDocument.Parse(File.ReadAllText(eval.File(EvaluateStage.MetricsFile))).RootElement;
        Assert.InRange(metrics.GetProperty("loss").GetDouble(), 1, 7); // ln(512) = 6.2: the micro parent learned something
        Assert.True(metrics.GetProperty("tokens").GetInt64() > 1000);

        var second = Cli.Wait(Cli.StartProcess("dotnet", Source, cake));
        Assert.True(second.Exit == 0, second.Out + second.Err);
        Assert.Contains("0 ran, 5 cached, 0 failed, 0 skipped", second.Out);

        var dry = Cli.Wait(Cli.StartProcess("dotnet", Source, [.. cake, "--dryrun"]));
        Assert.True(dry.Exit == 0, dry.Out + dry.Err);
        Assert.Contains("cached Parent/parent", Plain(dry.Out));
    }

    [Fact]
    public void MSBuild_runs_jobs_incrementally_and_reruns_only_the_job_whose_key_changed()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        using var stamps = new TempDir();
        string[] build = ["build", Path.Combine(Source, "examples", "msbuild", "PuzzleExample.proj"), "-m", "-v:n", "-nologo",
            $"-p:Configuration={Cli.Configuration}", $"-p:PuzzleSpec={repo.SpecPath}", $"-p:PuzzleStampDirectory={stamps.Path}"];

        var first = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, build));
        Assert.True(first.Exit == 0, first.Out);
        Assert.Equal(4, Count(first.Out, "published ")); // Tokenizer, Data, Parent, Evaluate (no npm source: no Fetch job)
        Assert.All(PipelineSession.Open(repo.SpecPath).Status("Evaluate"), s => Assert.Equal(Engine.Pipeline.Execution.JobState.Cached, s.State));

        var second = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, build));
        Assert.True(second.Exit == 0, second.Out);
        Assert.Equal(4, Count(second.Out, "Skipping target \"PuzzleRunJob\" because all output files are up-to-date"));

        repo.Edit("tokens: 400", "tokens: 300"); // evaluation.tokens: only the Evaluate job reads it
        var third = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, build));
        Assert.True(third.Exit == 0, third.Out);
        Assert.Equal(3, Count(third.Out, "Skipping target \"PuzzleRunJob\" because all output files are up-to-date"));
        Assert.Contains("published Evaluate/parent", third.Out);
    }

    /// <summary>Cake colours parts of its lines: compare the text without the escape codes.</summary>
    static string Plain(string text) => System.Text.RegularExpressions.Regex.Replace(text, "\u001b\\[[0-9;]*m", "");

    static int Count(string text, string what) => (text.Length - text.Replace(what, "").Length) / what.Length;
}
