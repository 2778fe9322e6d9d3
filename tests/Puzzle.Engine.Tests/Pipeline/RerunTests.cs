using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary><c>puzzle run --rerun STAGE</c>: a stage's cached jobs run again, and with them every job that reads them.</summary>
public class RerunTests
{
    static PipelineSession Open(TestRepo repo) => PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All());

    static RunSummary Run(TestRepo repo, string? target = null, params string[] rerun)
    {
        var session = Open(repo);
        var console = new StringWriter();
        var summary = session.RunAsync(target, session.InProcessLauncher(), console, rerun: rerun).GetAwaiter().GetResult();
        Assert.True(summary.Succeeded, console.ToString());
        return summary;
    }

    static string[] Ran(RunSummary s) => s.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}").Order().ToArray();

    static string RunId(TestRepo repo, string stage, string job)
    {
        var session = Open(repo);
        return session.Store.Find(session.Graph.Find(stage, job).Key)!.Manifest.RunId;
    }

    [Fact]
    public void A_stage_named_runs_again_with_every_job_after_it_and_nothing_before_it()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var variant = RunId(repo, "Variants", "layer0.ffn.ratio0.5");
        var select = RunId(repo, "Select", "search");
        Assert.Empty(Ran(Run(repo)));

        var again = Run(repo, null, "select"); // stage names as --target takes them
        Assert.Equal(["Report/report", "Select/search"], Ran(again));
        Assert.Equal(variant, RunId(repo, "Variants", "layer0.ffn.ratio0.5"));
        Assert.NotEqual(select, RunId(repo, "Select", "search"));
        Assert.Empty(Ran(Run(repo))); // and then all of it is cached again
    }

    [Fact]
    public void Status_with_rerun_shows_as_stale_exactly_the_cached_jobs_the_rerun_runs_and_removes_nothing()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var session = Open(repo);
        // what Cake's --dryrun --rerun=Select prints: before, every job read cached there, and a real run then ran two
        var status = session.Status(null, ["select"]);
        Assert.Equal(["Report/report", "Select/search"],
            status.Where(s => s.State == JobState.Stale).Select(s => $"{s.Stage}/{s.Job}").Order().ToArray());
        Assert.All(status.Where(s => s.State == JobState.Stale), s => Assert.Equal("--rerun Select: runs again although cached", s.Reason));
        Assert.All(session.Status(null, ["select"]).Where(s => s.Stage is not ("Select" or "Report")), s => Assert.Equal(JobState.Cached, s.State));
        Assert.All(session.Status(), s => Assert.Equal(JobState.Cached, s.State)); // nothing removed
        // one job's status (puzzle status PIPELINE Select/search --rerun Select) says the same
        var one = session.Rerun([.. session.Status().Where(s => s.Stage == "Select")], null, ["Select"]);
        Assert.Equal(JobState.Stale, Assert.Single(one).State);

        Assert.Equal(["Report/report", "Select/search"], Ran(Run(repo, null, "select"))); // what the run then does
        Assert.Throws<ArgumentException>(() => session.Status(null, ["Nope"]));
    }

    [Fact]
    public void Forget_removes_what_a_rerun_removes_and_runs_nothing_so_the_next_run_builds_it_again()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var console = new StringWriter();

        Open(repo).Forget(["select"], null, console); // puzzle forget PIPELINE Select; MSBuild's PuzzleRerun

        Assert.Equal("rerun Select: 2 cached entries removed (Select, Report)", console.ToString().Trim());
        var status = Open(repo).Status();
        Assert.Equal(["Report/report", "Select/search"],
            status.Where(s => s.State != JobState.Cached).Select(s => $"{s.Stage}/{s.Job}").Order().ToArray());
        Assert.Equal(["Report/report", "Select/search"], Ran(Run(repo)));
        Assert.Throws<ArgumentException>(() => Open(repo).Forget(["Nope"], null, null));
    }

    [Fact]
    public void Only_the_targets_jobs_run_again_and_the_entries_after_them_go_to_be_built_when_needed()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var jobs = Open(repo).Graph.Jobs["Variants"].Select(j => $"Variants/{j.Id}");

        var again = Run(repo, "Select", "Variants");
        Assert.Equal(jobs.Append("Select/search").Order().ToArray(), Ran(again));
        // outside the target, the report read the old variants under the same key: it is gone, not kept stale
        var session = Open(repo);
        Assert.Null(session.Store.Find(session.Graph.Find("Report", "report").Key));
        Assert.Equal(["Report/report"], Ran(Run(repo)));
    }

    [Fact]
    public async Task Entries_built_on_a_rerun_entry_under_other_keys_go_too()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var before = Open(repo);
        var (oldSelect, oldReport) = (before.Graph.Find("Select", "search").Key, before.Graph.Find("Report", "report").Key);
        repo.Edit("throughput_vs_parent: 1.5", "throughput_vs_parent: 2"); // a constraint change: a Select and Report of other keys
        Assert.Equal(["Report/report", "Select/search"], Ran(Run(repo)));

        var session = Open(repo);
        var console = new StringWriter();
        var again = await session.RunAsync(null, session.InProcessLauncher(), console, rerun: ["Variants"]);
        Assert.True(again.Succeeded, console.ToString());
        // the 1.5x Select and Report read the variants that were removed: kept, they would be hits built on old variants
        Assert.Null(session.Store.Find(oldSelect));
        Assert.Null(session.Store.Find(oldReport));
        Assert.Contains("and 2 cached entries built on them under other keys (Select, Report)", console.ToString());

        repo.Edit("throughput_vs_parent: 2", "throughput_vs_parent: 1.5");
        Assert.Equal(["Report/report", "Select/search"], Ran(Run(repo)));
    }

    [Fact]
    public void The_stores_readers_of_an_entry_come_before_what_they_read()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var session = Open(repo);
        var variant = session.Graph.Find("Variants", "layer0.ffn.ratio0.5").Key;
        var readers = session.Store.ReadersOf([variant]).Select(m => $"{m.Stage}/{m.Job}").ToArray();
        Assert.Equal(["Report/report", "Select/search"], readers);
        Assert.Empty(session.Store.ReadersOf([session.Graph.Find("Report", "report").Key]));
    }

    [Fact]
    public void A_stage_that_is_not_there_or_not_built_by_the_target_is_an_error_before_anything_is_removed()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var session = Open(repo);
        var unknown = Assert.Throws<ArgumentException>(() => session.RunAsync(null, session.InProcessLauncher(), rerun: ["Selekt"]).GetAwaiter().GetResult());
        Assert.Contains("unknown stage 'Selekt' (did you mean 'Select'?)", unknown.Message);
        var outside = Assert.Throws<ArgumentException>(() => session.RunAsync("Variants", session.InProcessLauncher(), rerun: ["Report"]).GetAwaiter().GetResult());
        Assert.Equal("--rerun Report: --target Variants builds no Report job", outside.Message);
        Assert.Empty(Ran(Run(repo)));
    }

    [Fact]
    public void A_key_in_use_by_another_run_stops_the_rerun_and_leaves_no_reader_of_a_removed_entry()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var session = Open(repo);
        var select = session.Graph.Find("Select", "search");
        var variant = RunId(repo, "Variants", "layer0.ffn.ratio0.5");
        using (session.Store.Lock(select.Key))
        {
            var busy = Assert.Throws<InvalidOperationException>(() => session.RunAsync(null, session.InProcessLauncher(), rerun: ["Variants"]).GetAwaiter().GetResult());
            Assert.Contains("in use by another run", busy.Message);
        }
        // readers go first: the report was removed, Select (locked) and every variant are still there
        Assert.Null(session.Store.Find(session.Graph.Find("Report", "report").Key));
        Assert.Equal(variant, RunId(repo, "Variants", "layer0.ffn.ratio0.5"));
        Assert.Equal(["Report/report"], Ran(Run(repo)));
    }
}
