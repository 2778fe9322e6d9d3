using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Only what changed runs again: proven from the executor's run records and the manifests, not from timing.</summary>
public class IncrementalRunTests
{
    static RunSummary Run(TestRepo repo, string? failJob = null)
    {
        var session = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All(failJob));
        return session.RunAsync(null, session.InProcessLauncher(), TextWriter.Null).GetAwaiter().GetResult();
    }

    static string[] Ran(RunSummary s) => s.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}").Order().ToArray();

    [Fact]
    public void Changing_only_constraints_reruns_only_the_search_and_what_follows()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Assert.Equal(6, Ran(Run(repo)).Length); // 4 variants, search, report
        Assert.Empty(Ran(Run(repo)));

        repo.Edit("throughput_vs_parent: 1.5", "throughput_vs_parent: 2.0");
        var status = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Status();
        var search = status.Single(s => s.Stage == "Select");
        Assert.Equal(JobState.Stale, search.State);
        Assert.Contains("constraints.throughput_vs_parent", search.Reason);
        Assert.All(status.Where(s => s.Stage == "Variants"), s => Assert.Equal(JobState.Cached, s.State));

        var rerun = Run(repo);
        Assert.Equal(["Report/report", "Select/search"], Ran(rerun));
        Assert.Equal(4, rerun.Where(JobOutcome.Cached).Count());
    }

    [Theory]
    [InlineData("\"inputs\": null")]
    [InlineData("\"config\": null")]
    [InlineData("\"inputs\": { \"a\": null }")]
    [InlineData("\"seed\": 0")] // inputs and config absent
    public void A_history_file_that_parses_but_is_incomplete_gives_no_reason_and_stops_nothing(string fields)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        repo.Edit("throughput_vs_parent: 1.5", "throughput_vs_parent: 2.0");
        var history = Directory.GetFiles(Path.Combine(repo.Store, "history"), "search.json", SearchOption.AllDirectories).Single();
        File.WriteAllText(history, $"{{ \"key\": \"abc\", {fields} }}");

        // before, "inputs": null stopped puzzle status (and a run's status line) on a NullReferenceException
        var search = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Status().Single(s => s.Stage == "Select");
        Assert.Equal((JobState.Missing, "never built"), (search.State, search.Reason)); // as with no history to compare with
        Assert.Equal(["Report/report", "Select/search"], Ran(Run(repo)));
    }

    [Fact]
    public void Changing_one_variants_setting_reruns_only_that_variant_and_what_depends_on_it()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        repo.Edit("bld:\n  lr: 0.001", "bld:\n  lr: 0.001\n  variants:\n    - { match: layer1.ffn.ratio0.5, lr: 0.01 }");

        var stale = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Status().Where(s => s.State != JobState.Cached).ToList();
        Assert.Equal(["Variants/layer1.ffn.ratio0.5", "Select/search", "Report/report"], stale.Select(s => $"{s.Stage}/{s.Job}"));
        Assert.Contains("lr", stale[0].Reason);
        Assert.Contains("input changed: Variants/layer1.ffn.ratio0.5", stale[1].Reason);

        Assert.Equal(["Report/report", "Select/search", "Variants/layer1.ffn.ratio0.5"], Ran(Run(repo)));
    }

    [Fact]
    public void A_failed_job_stops_what_depends_on_it_reports_its_log_and_keeps_the_rest_cached()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var failed = Run(repo, failJob: "layer0.ffn.ratio0.25");
        Assert.False(failed.Succeeded);
        var failure = failed.Where(JobOutcome.Failed).Single();
        Assert.Equal("layer0.ffn.ratio0.25", failure.Job);
        Assert.Contains("fails on purpose", File.ReadAllText(failure.Log!));
        Assert.Equal(["Report/report", "Select/search"], failed.Where(JobOutcome.Skipped).Select(j => $"{j.Stage}/{j.Job}").Order());
        Assert.Equal(3, failed.Where(JobOutcome.Ran).Count());
        var status = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Status().Where(s => s.State != JobState.Cached);
        Assert.Equal(["Variants/layer0.ffn.ratio0.25: never built; its last attempt failed", "Select/search: never built", "Report/report: never built"],
            status.Select(s => $"{s.Stage}/{s.Job}: {s.Reason}"));

        var fixedRun = Run(repo);
        Assert.Equal(["Report/report", "Select/search", "Variants/layer0.ffn.ratio0.25"], Ran(fixedRun));
    }

    [Fact]
    public void A_failed_attempt_leaves_the_log_of_the_result_before_it_and_names_its_own()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var built = Run(repo).Jobs.Single(j => j.Job == "layer0.ffn.ratio0.25");
        var log = File.ReadAllText(built.Log!);

        repo.Edit("bld:\n  lr: 0.001", "bld:\n  lr: 0.001\n  variants:\n    - { match: layer0.ffn.ratio0.25, lr: 0.01 }");
        var failure = Run(repo, failJob: "layer0.ffn.ratio0.25").Where(JobOutcome.Failed).Single();

        Assert.Equal(log, File.ReadAllText(built.Log!)); // the log of the result still in the store
        Assert.NotEqual(built.Log, failure.Log);
        Assert.EndsWith(Path.Combine("Variants", "layer0.ffn.ratio0.25.failed.log"), failure.Log);
        Assert.Contains("fails on purpose", File.ReadAllText(failure.Log!));
    }

    [Fact]
    public void Keys_cover_exactly_the_fields_a_job_reads()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var before = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Graph;
        repo.Edit("tokens: 400", "tokens: 500"); // evaluation.tokens: read by none of these stages
        var after = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Graph;
        Assert.Equal(before.JobsFor(null).Select(j => j.Key), after.JobsFor(null).Select(j => j.Key));
        repo.Edit("bld:\n  lr: 0.001", "bld:\n  lr: 0.002");
        var changed = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Graph.JobsFor(null)
            .Zip(before.JobsFor(null)).Count(p => p.First.Key != p.Second.Key);
        Assert.Equal(6, changed); // every variant reads bld.lr, and the search and report read them
    }
}
