using System.Diagnostics;
using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Tests.Pipeline;

public sealed class RunProgressTests
{
    [Fact]
    public async Task A_run_counts_its_jobs_names_each_log_and_gives_an_overall_eta()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        var console = new StringWriter();

        var summary = await session.RunAsync("Data", session.InProcessLauncher(), console, jobs: 1);

        Assert.True(summary.Succeeded);
        var lines = console.ToString().ReplaceLineEndings("\n").Split('\n');
        var tokenizerLog = Path.Combine(repo.Store, "logs", "test", "Tokenizer", "tokenizer.log");
        Assert.Contains(lines, l => Regex.IsMatch(l, $@"^\[1/2\] run    Tokenizer/tokenizer \(\d+ threads?\); log: {Regex.Escape(tokenizerLog)}$"));
        // a new store: nothing says how long Data takes
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\[1/2\] done   Tokenizer/tokenizer in \d+\.\d s, ETA 0:00:00 \+ Data, not timed yet \(\d+:\d\d:\d\d elapsed\)$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\[2/2\] done   Data/tokens in \d+\.\d s, ETA 0:00:00 "));
    }

    [Fact]
    public void The_eta_is_the_stage_mean_of_what_is_left_and_hours_do_not_wrap()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var jobs = PipelineSession.Open(repo.SpecPath).Graph.JobsFor("Distill").Where(j => j.Stage.Name == "Distill").Take(4).ToList();
        var clock = Stopwatch.StartNew();
        var progress = new RunProgress(jobs, clock, parallelJobs: 1);
        Assert.Equal("[1/4]", progress.Started());
        progress.Finished(jobs[0], TimeSpan.FromHours(10));

        var eta = progress.Eta([]);

        // 3 more Distill jobs at that stage's mean of 10 h, one at a time
        Assert.Matches(@"^, ETA 30:00:00 \(0:00:0\d elapsed\)$", eta);
        Assert.Equal("[1/4]", progress.Counter);
        Assert.Equal("30:00:00", ProgressLine.Clock(TimeSpan.FromHours(30)));
        Assert.Equal("1:01:01", ProgressLine.Clock(TimeSpan.FromSeconds(3661)));
        Assert.Equal("59.0 s", RunProgress.Duration(TimeSpan.FromSeconds(59)));
        Assert.Equal("0:04:48", RunProgress.Duration(TimeSpan.FromSeconds(288)));
    }

    [Fact]
    public void Jobs_built_by_another_jobs_process_take_no_time_in_the_eta()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var jobs = PipelineSession.Open(repo.SpecPath).Graph.JobsFor("Distill").Where(j => j.Stage.Name == "Distill").Take(4).ToList();
        var progress = new RunProgress(jobs, Stopwatch.StartNew(), parallelJobs: 1);
        progress.Started();
        progress.Finished(jobs[0], TimeSpan.FromHours(1)); // its process built jobs[1] too

        // right after the process: jobs[1] is built but not counted yet; a Distill job is half a process (30 min), 2 left
        Assert.Matches(@"^, ETA 1:00:00 ", progress.Eta([], [jobs[1]]));
        Assert.Matches(@"^, ETA 3:00:00 ", progress.Eta([])); // not knowing it: 3 jobs of an hour

        progress.BuiltWith(jobs[1]);
        Assert.Equal("[2/4]", progress.Counter);
        Assert.Matches(@"^, ETA 1:00:00 ", progress.Eta([]));
    }

    [Fact]
    public void A_stage_this_run_has_not_reached_is_expected_to_take_what_it_took_in_the_latest_run_that_ran_it()
    {
        static JobRecord Ran(string stage, double seconds) => new(stage, "j", "k", JobOutcome.Ran, seconds, null);
        var older = new RunSummary("test", null, new DateTime(2026, 12, 1), 0,
            [Ran("Distill", 100), Ran("Score", 30), Ran("Score", 0), new("Heal", "j", "k", JobOutcome.Failed, 500, null)]);
        var newer = new RunSummary("test", null, new DateTime(2026, 12, 2), 0,
            [Ran("Distill", 60), Ran("Distill", 0), Ran("Distill", 0), new("Score", "j", "k", JobOutcome.Cached, 0, null)]);

        var times = RunProgress.StageTimes([older, newer]);

        // Distill from the newer run (one process built 3 jobs), Score from the older; a failed or cached job says nothing
        Assert.Equal(new Dictionary<string, double> { ["Distill"] = 20, ["Score"] = 15 }, times);

        using var repo = new TestRepo(TestRepo.MicroSpec);
        var plan = PipelineSession.Open(repo.SpecPath).Graph.JobsFor("Score");
        var jobs = plan.Where(j => j.Stage.Name is "Distill" or "Score").ToList();
        var (distill, score) = (jobs.Count(j => j.Stage.Name == "Distill"), jobs.Count(j => j.Stage.Name == "Score"));

        string EtaAfterOneDistillJob(IReadOnlyDictionary<string, double>? earlier)
        {
            var progress = new RunProgress(jobs, Stopwatch.StartNew(), parallelJobs: 1, earlier);
            progress.Started();
            progress.Finished(jobs.First(j => j.Stage.Name == "Distill"), TimeSpan.FromHours(2));
            return progress.Eta([]);
        }

        // the other Distill jobs at this run's 2 h, each Score job at the earlier run's hour, not at this run's mean
        Assert.Matches($@"^, ETA {2 * (distill - 1) + score}:00:00 ", EtaAfterOneDistillJob(new Dictionary<string, double> { ["Score"] = 3600 }));
        // no earlier run (a new store), or none that ran Score: Score is named, not guessed at from other stages' jobs
        // (this run's mean made 3 minutes of a 47-minute run) and not left out unsaid (it once said 0:00:00)
        foreach (var earlier in new[] { null, new Dictionary<string, double>(), new Dictionary<string, double> { ["Heal"] = 3600 } })
            Assert.Matches($@"^, ETA {2 * (distill - 1)}:00:00 \+ Score, not timed yet \(0:00:0\d elapsed\)$", EtaAfterOneDistillJob(earlier));
    }

    [Fact]
    public void Stages_not_timed_yet_are_named_in_plan_order_and_counted_when_many()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var jobs = PipelineSession.Open(repo.SpecPath).Graph.JobsFor("Report");
        var stages = jobs.Select(j => j.Stage.Name).Distinct().ToList();
        var progress = new RunProgress(jobs, Stopwatch.StartNew(), parallelJobs: 1);
        progress.Started();
        progress.Finished(jobs[0], TimeSpan.FromSeconds(3));

        var eta = progress.Eta([(jobs[1], TimeSpan.FromSeconds(1))]);

        // the first stage's other jobs at its 3 s; every later stage unknown, the running job's included
        var first = jobs.Count(j => j.Stage == jobs[0].Stage) - 1;
        var untimed = stages.Skip(1).ToList();
        Assert.True(untimed.Count > 2, string.Join(", ", stages));
        Assert.StartsWith($", ETA {ProgressLine.Clock(TimeSpan.FromSeconds(3 * first - (jobs[1].Stage == jobs[0].Stage ? 1 : 0)))} " +
                          $"+ {untimed.Count} stages not timed yet: {untimed[0]}, {untimed[1]}, … (", eta);
    }

    [Fact]
    public void Earlier_runs_are_read_newest_first_and_an_unreadable_record_is_passed_over()
    {
        using var dir = new TempDir();
        var first = new RunSummary("p", null, new DateTime(2026, 12, 1, 10, 0, 0, DateTimeKind.Utc), 5, [new("Data", "tokens", "k", JobOutcome.Ran, 5, null)]);
        var second = first with { StartedUtc = new DateTime(2026, 12, 2, 10, 0, 0, DateTimeKind.Utc) };
        first.Save(dir.Path);
        second.Save(dir.Path);
        File.WriteAllText(Path.Combine(dir.Path, "runs", "p", "20261203-000000-000-1.json"), "{ not a record");

        var runs = RunSummary.Earlier(dir.Path, "p");

        Assert.Equal([second.StartedUtc, first.StartedUtc], runs.Select(r => r.StartedUtc)); // last.json is not a third
        Assert.Empty(RunSummary.Earlier(dir.Path, "other"));
    }

    [Fact]
    public void A_progress_line_counts_any_unit_with_an_hours_eta()
    {
        var log = new StringWriter();
        var line = new ProgressLine("measure", 10, log, TimeSpan.Zero, unit: "shape");

        line.Report(5, double.NaN, force: true);

        var text = log.ToString().Trim();
        Assert.Matches(@"^measure \[#{12}-{12}\]\s+50 ?% 5/10 shape  [\d,.]+ shape/s  ETA \d+:\d\d:\d\d$", text);
        Assert.True(ProgressLine.IsProgress(text));
        Assert.False(ProgressLine.IsProgress("published Data/tokens"));
    }

    [Fact]
    public void A_progress_line_past_its_total_has_no_time_left_not_a_negative_one()
    {
        Assert.Equal(TimeSpan.Zero, ProgressLine.Remaining(total: 512, done: 1024, rate: 3.5)); // one GKD step of 1,024 for 512 tokens
        Assert.Equal(TimeSpan.FromSeconds(10), ProgressLine.Remaining(512, 256, 25.6));
        Assert.Null(ProgressLine.Remaining(512, 0, 0)); // nothing counted yet: unknown

        var log = new StringWriter();
        new ProgressLine("time", 12, log, TimeSpan.Zero, unit: "run").Report(0, double.NaN, force: true);
        Assert.EndsWith("ETA ?", log.ToString().Trim());
    }
}
