using System.Text.Json;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The micro pipeline end to end through the real front ends: Cake (script) and MSBuild (task assembly).</summary>
[Collection(nameof(TimingCollection))] // the pipeline measures costs and speed: no other test beside it
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class FrontEndTests
{
    static string Source => TestRepo.Source;

    [Fact]
    public void Cake_runs_the_ci_pipeline_from_parent_to_report_and_a_rerun_is_all_cached()
    {
        using var store = new TempDir();
        using var work = new TempDir(); // the spec's folder: artifacts/ is written beside it, never into the checkout
        var (spec, cake) = CakeOnCi(work, store, "Report");

        // a dry run says what would run, and runs nothing (Cake 7 runs Setup in a dry run: it once ran every job)
        var before = Cli.Wait(Cli.StartProcess("dotnet", Source, [.. cake, "--dryrun"]));
        Assert.True(before.Exit == 0, before.Out + before.Err);
        Assert.Contains("RUN    Parent/parent  (missing: never built)", Plain(before.Out));
        Assert.DoesNotContain(" ran, ", before.Out);
        Assert.False(Directory.Exists(Path.Combine(store.Path, "cache")) && Directory.EnumerateFileSystemEntries(Path.Combine(store.Path, "cache")).Any(),
            "a dry run built something");
        // a mistyped target: the CLI's "did you mean", a non-zero exit, nothing run
        var typo = Cli.Wait(Cli.StartProcess("dotnet", Source, [.. cake.Select(a => a == "--target=Report" ? "--target=Reprot" : a)]));
        Assert.True(typo.Exit != 0, typo.Out + typo.Err);
        Assert.Contains("unknown stage 'Reprot' (did you mean 'Report'?)", Plain(typo.Out + typo.Err));
        Assert.DoesNotContain(" ran, ", typo.Out);
        // Cake's task names ignore case, and so does Default: every stage, not a stage named "default"
        var lower = Cli.Wait(Cli.StartProcess("dotnet", Source, [.. cake.Select(a => a == "--target=Report" ? "--target=default" : a), "--dryrun"]));
        Assert.True(lower.Exit == 0, lower.Out + lower.Err);
        Assert.Contains("dry run of Default: jobs that would run", Plain(lower.Out));

        var first = Cli.Wait(Cli.StartProcess("dotnet", Source, cake));
        Assert.True(first.Exit == 0, first.Out + first.Err);
        Assert.Contains(" 0 cached, 0 failed, 0 skipped", first.Out);
        // the one `puzzle run` is Setup's time in Cake's task table, not the first stage's
        Assert.Matches(@"\n\s*Setup\s+00:0\d:\d\d", Plain(first.Out));
        Assert.Matches(@"\n\s*Fetch\s+00:00:0\d", Plain(first.Out));

        var session = PipelineSession.Open(spec, store.Path);
        var eval = session.Store.Find(session.Graph.Find("Evaluate", "parent").Key)!;
        var metrics = JsonDocument.Parse(File.ReadAllText(eval.File(EvaluateStage.MetricsFile))).RootElement;
        Assert.InRange(metrics.GetProperty("loss").GetDouble(), 1, 7); // ln(512) = 6.2: the micro parent learned something
        Assert.True(metrics.GetProperty("tokens").GetInt64() > 1000);

        // the report: every model present with sane numbers
        var reportEntry = session.Store.Find(session.Graph.Find("Report", "report").Key)!;
        var report = JsonDocument.Parse(File.ReadAllText(reportEntry.File(ReportStage.JsonFile))).RootElement;
        var models = report.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);
        Assert.Equal(["parent", "child1", "uniform", "shortgpt", "random"], models.Keys);
        foreach (var (name, m) in models)
        {
            Assert.False(m.TryGetProperty("skipped", out var why), $"{name} skipped: {why}");
            foreach (var field in new[] { "top1", "loss", "kl", "agreement", "retention", "prefill_tokens_per_s", "decode_tokens_per_s" })
                Assert.True(double.IsFinite(m.GetProperty(field).GetDouble()), $"{name}.{field}");
            Assert.InRange(m.GetProperty("retention").GetDouble(), 1e-9, 1.2);
            Assert.True(m.GetProperty("kl").GetDouble() >= 0, name);
            Assert.True(m.GetProperty("decode_tokens_per_s").GetDouble() > 0, name);
            foreach (var field in new[] { "predicted", "prefill", "decode" })
                Assert.True(m.GetProperty("speedup").GetProperty(field).GetDouble() > 0, $"{name}.speedup.{field}");
        }
        // the task made from held-out text: every model answers it, with retention against the parent's accuracy
        foreach (var (name, m) in models)
        {
            var task = Assert.Single(m.GetProperty("tasks").EnumerateArray());
            Assert.Equal("heldout-next-span", task.GetProperty("name").GetString());
            Assert.True(task.GetProperty("examples").GetInt32() >= 100, $"{name}: {task}");
            Assert.InRange(task.GetProperty("accuracy_norm").GetDouble(), 0, 1);
            Assert.Equal(task.GetProperty("accuracy").GetDouble() / models["parent"].GetProperty("tasks")[0].GetProperty("accuracy").GetDouble(),
                task.GetProperty("retention").GetDouble(), 9);
        }
        Assert.InRange(models["parent"].GetProperty("tasks")[0].GetProperty("accuracy").GetDouble(), 1e-9, 1); // the micro parent is near chance (1/4)
        Assert.True(models["child1"].GetProperty("tasks")[0].GetProperty("retention").GetDouble() > 0, models["child1"].ToString());
        // the constraints ask for 1.3x of the predicted cost; what it measures to is a benchmark's business (speed is
        // noisy on a shared machine), so here it only has to be a measurement
        Assert.True(models["child1"].GetProperty("speedup").GetProperty("predicted").GetDouble() >= 1.3 - 1e-9);
        Assert.True(double.IsFinite(models["child1"].GetProperty("speedup").GetProperty("scenario").GetDouble()), models["child1"].ToString());
        Assert.True(File.Exists(Path.Combine(work.Path, "artifacts", "ci", ReportStage.HtmlFile)));
        Assert.Contains("child1", File.ReadAllText(reportEntry.File(ReportStage.HtmlFile)));

        var second = Cli.Wait(Cli.StartProcess("dotnet", Source, cake));
        Assert.True(second.Exit == 0, second.Out + second.Err);
        Assert.Contains("0 ran, ", second.Out);
        Assert.Contains(" cached, 0 failed, 0 skipped", second.Out);

        var dry = Cli.Wait(Cli.StartProcess("dotnet", Source, [.. cake, "--dryrun"]));
        Assert.True(dry.Exit == 0, dry.Out + dry.Err);
        Assert.Contains("cached Parent/parent", Plain(dry.Out));

        var printed = Cli.Run(Source, "report", spec);
        Assert.True(printed.Exit == 0, printed.Err);
        Assert.Contains("shortgpt", printed.Out);

        // --rerun=measure: the cached Measure job runs again (timings taken on a busy machine, say), nothing before it;
        // what reads it, here outside the target, goes from the store to be built again when needed
        string RunId(string stage) => session.Store.Find(session.Graph.Jobs[stage][0].Key)!.Manifest.RunId;
        var (parentRun, measureRun) = (RunId("Parent"), RunId("Measure"));
        string[] remeasure = ["cake", "build.cake", "--target=Measure", $"--pipeline={spec}", $"--store={store.Path}",
            $"--configuration={Cli.Configuration}", "--no-build", "--rerun=measure"];
        var rerun = Cli.Wait(Cli.StartProcess("dotnet", Source, remeasure));
        Assert.True(rerun.Exit == 0, rerun.Out + rerun.Err);
        Assert.Contains("rerun Measure: ", rerun.Out + rerun.Err);
        Assert.Equal(parentRun, RunId("Parent"));
        Assert.NotEqual(measureRun, RunId("Measure"));
        Assert.Null(session.Store.Find(reportEntry.Manifest.Key));
    }

    [Fact]
    public void Cake_takes_rerun_repeated_as_the_CLI_does()
    {
        using var store = new TempDir();
        using var work = new TempDir();
        var (spec, cake) = CakeOnCi(work, store, "Data");
        var first = Cli.Wait(Cli.StartProcess("dotnet", Source, cake));
        Assert.True(first.Exit == 0, first.Out + first.Err);

        // --rerun=A --rerun=B reruns both (Cake's Argument<string> kept only the last one, and Tokenizer stayed cached)
        var rerun = Cli.Wait(Cli.StartProcess("dotnet", Source, [.. cake, "--rerun=Tokenizer", "--rerun=Data"]));
        Assert.True(rerun.Exit == 0, rerun.Out + rerun.Err);
        Assert.Contains("rerun Tokenizer, Data: ", Plain(rerun.Out + rerun.Err));
        Assert.Contains("ci: 2 ran, 1 cached, 0 failed", Plain(rerun.Out));
    }

    /// <summary>
    /// Cake's arguments: a misspelt one is an error naming it and the closest (--job=2 ran the default silently), as is
    /// --rerun without a stage (it ran as if there were no --rerun); how the jobs run reaches `puzzle run` as its own
    /// options, each here a value the CLI refuses before anything runs, so no job runs.
    /// </summary>
    [Fact]
    public void Cake_refuses_an_unknown_argument_and_passes_how_the_jobs_run_to_the_CLI()
    {
        using var store = new TempDir();
        using var work = new TempDir();
        var (spec, cake) = CakeOnCi(work, store, "Data");
        string Fails(params string[] more)
        {
            var run = Cli.Wait(Cli.StartProcess("dotnet", Source, [.. cake, .. more]));
            Assert.True(run.Exit != 0, run.Out + run.Err);
            Assert.DoesNotContain(" ran, ", run.Out);
            return Plain(run.Out + run.Err);
        }

        // refused before the CLI is asked anything (the graph's "pipeline ci (...)" line comes first otherwise)
        var typo = Fails("--job=2");
        Assert.Contains("unknown argument --job (did you mean --jobs?); this script takes --target, --pipeline, ", typo);
        Assert.Contains("--threads-per-job, --executor, --in-process", typo);
        Assert.DoesNotContain("pipeline ci (", typo);
        Assert.Contains("--rerun needs a stage name", Fails("--rerun", ""));

        // Cake's own settings pass; each option reaches `puzzle run`, whose own error says so
        Assert.Contains("error: --jobs must be between 1 and 64, got 0", Fails("--jobs=0", "--settings_skipverification=true"));
        Assert.Contains("error: --threads-per-job must be at least 1, got 0", Fails("--threads-per-job=0", "--no-report"));
        Assert.Contains("--in-process runs jobs in this process; it cannot be combined with the slurm executor", Fails("--executor=slurm", "--in-process"));
        Assert.False(Directory.Exists(Path.Combine(store.Path, "cache")) && Directory.EnumerateFileSystemEntries(Path.Combine(store.Path, "cache")).Any(),
            "a refused run built something");
    }

    [Fact]
    public void MSBuild_runs_jobs_incrementally_and_reruns_only_the_job_whose_key_changed()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        using var stamps = new TempDir();
        var build = MSBuild(repo, stamps, "Parent", "-m", "-v:n");

        var first = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, build));
        Assert.True(first.Exit == 0, first.Out);
        Assert.Equal(3, Count(first.Out, "published ")); // Tokenizer, Data, Parent (no npm source: no Fetch job)
        Assert.All(PipelineSession.Open(repo.SpecPath).Status("Parent"), s => Assert.Equal(Engine.Pipeline.Execution.JobState.Cached, s.State));

        var second = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, build));
        Assert.True(second.Exit == 0, second.Out);
        Assert.Equal(3, Count(second.Out, "Skipping target \"PuzzleRunJob\" because all output files are up-to-date"));

        repo.Edit("tokens: 3000, batch: 4", "tokens: 2000, batch: 4"); // parent.pretrain.tokens: only the Parent job reads it
        var third = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, build));
        Assert.True(third.Exit == 0, third.Out);
        Assert.Equal(2, Count(third.Out, "Skipping target \"PuzzleRunJob\" because all output files are up-to-date"));
        Assert.Contains("published Parent/parent", third.Out);

        // the done marks say what was built, not that a store still holds it: against an empty store, every job runs again
        using var other = new TempDir();
        var fourth = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, [.. build, $"-p:PuzzleStore={other.Path}"]));
        Assert.True(fourth.Exit == 0, fourth.Out);
        Assert.Equal(0, Count(fourth.Out, "Skipping target \"PuzzleRunJob\" because all output files are up-to-date"));
        Assert.Equal(3, Count(fourth.Out, "published "));
        Assert.All(PipelineSession.Open(repo.SpecPath, other.Path).Status("Parent"), s => Assert.Equal(Engine.Pipeline.Execution.JobState.Cached, s.State));

        // -p:PuzzleRerun=data, as the CLI's and Cake's --rerun: Data runs again although cached, and Parent after it; before,
        // MSBuild had no rerun, and the property was not read
        var fifth = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, [.. build, "-p:PuzzleRerun=data"]));
        Assert.True(fifth.Exit == 0, fifth.Out);
        Assert.Contains("rerun Data: 2 cached entries removed (Data, Parent)", fifth.Out);
        Assert.Equal(1, Count(fifth.Out, "Skipping target \"PuzzleRunJob\" because all output files are up-to-date"));
        Assert.Equal(["Data/tokens", "Parent/parent"], [.. Published(fifth.Out)]);
    }

    /// <summary>
    /// A wave's leads start before their companions: one process builds each group (all the micro parent's variants, then
    /// both layers' scores), where a companion started beside its lead could take its own lock first and split the group.
    /// A timing job (Measure, Search, Speed) runs with nothing beside it, Measure once the library is scored, and so does a
    /// process planned to hold more than its share of this machine's memory, shared by as many jobs as MSBuild runs at once
    /// (here enough that every Distill and Heal process is). Single-threaded jobs get one thread.
    /// </summary>
    [Fact]
    public void MSBuild_starts_a_waves_leads_first_and_runs_each_timing_job_and_each_job_above_its_memory_share_alone()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        using var stamps = new TempDir();
        var session = PipelineSession.Open(repo.SpecPath);
        var planned = GraphDocument.Of(session.Graph, session.Store, "Report").InOrder().Where(p => p.Job.PlannedMemory is not null).ToList();
        Assert.Equal(["Distill", "Heal"], planned.Select(p => p.Stage.Name).Distinct());
        var nodes = Math.Max(8, (int)(planned[0].Stage.DeviceMemory!.Value / planned.Min(p => p.Job.PlannedMemory!.Value)) + 1);
        var build = MSBuild(repo, stamps, "Report", $"-m:{nodes}", "-v:n");

        var run = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, build));
        Assert.True(run.Exit == 0, run.Out);
        // each job's start (MSBuild logs its command line) and end (its published or cached line), in the log's order
        var events = System.Text.RegularExpressions.Regex.Matches(run.Out,
                @"puzzle\.dll job \S+ --stage (?<stage>\w+) --id (?<id>\S+) |(?<end>published|cached) (?<stage>\w+)/(?<id>\S+) ")
            .Select(m => (Job: $"{m.Groups["stage"].Value}/{m.Groups["id"].Value}", Start: !m.Groups["end"].Success)).ToList();
        int Start(string job) => events.FindIndex(e => e == (job, true));
        int End(string job) => events.FindIndex(e => e == (job, false));
        void Alone(string job)
        {
            var (start, end) = (Start(job), End(job));
            Assert.True(start >= 0 && end == start + 1, $"{job} did not run alone:\n{string.Join("\n", events)}");
            Assert.All(events.Take(start).Where(e => e.Start), e => Assert.True(End(e.Job) < start, $"{e.Job} still ran when {job} started"));
        }

        foreach (var stage in new[] { "Distill", "Score" })
        {
            var jobs = session.Graph.Jobs[stage];
            Assert.True(jobs.Count > 1, stage);
            var lead = jobs[0].Id;
            Assert.All(jobs, j => Assert.Equal(lead, (string?)session.Store.Find(j.Key)!.Manifest.Metrics["built_with"]));
            Assert.Equal(1, Count(run.Out, $"published {stage}/"));
            Assert.All(jobs.Skip(1), c => Assert.True(Start(c.Name) > End(jobs[0].Name), $"{c.Name} started before its lead published:\n{run.Out}"));
        }
        foreach (var timing in new[] { "Measure", "Search", "Speed" }.SelectMany(s => session.Graph.Jobs[s])) Alone(timing.Name);
        foreach (var (stage, job) in planned)
        {
            Alone($"{stage.Name}/{job.Id}");
            Assert.Contains($"puzzle: {stage.Name}/{job.Id} runs alone on this machine: about ", run.Out);
            Assert.Matches($"--stage {stage.Name} --id {System.Text.RegularExpressions.Regex.Escape(job.Id)} .*--threads {Environment.ProcessorCount}", run.Out);
        }
        Assert.True(Start("Measure/" + session.Graph.Jobs["Measure"][0].Id) > session.Graph.Jobs["Score"].Max(j => End(j.Name)));
        Assert.Matches("--stage Tokenizer --id tokenizer .*--threads 1", run.Out);
    }

    /// <summary>
    /// A job on a GPU gets one of PuzzleGpus as its CUDA_VISIBLE_DEVICES (MSBuild logs it at -v:d); a CPU job gets none.
    /// Here, without a GPU, the Parent job then fails with what to do.
    /// </summary>
    [Fact]
    public void MSBuild_hands_a_job_on_a_GPU_one_of_the_GPUs()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec + "\ndevice: cuda\n");
        using var stamps = new TempDir();
        var build = MSBuild(repo, stamps, "Parent", "-m:2", "-v:d", "-p:PuzzleGpus=\"5,7\"");

        var run = Cli.Wait(Cli.StartProcess("dotnet", repo.Root, build));
        Assert.NotEqual(0, run.Exit);
        Assert.Matches(@"CUDA_VISIBLE_DEVICES=5\s+\S+ \S+puzzle\.dll job \S+ --stage Parent ", run.Out);
        Assert.DoesNotMatch(@"CUDA_VISIBLE_DEVICES=\d\s+\S+ \S+puzzle\.dll job \S+ --stage (Tokenizer|Data) ", run.Out);
        Assert.Contains("published Data/", run.Out);
        Assert.Contains("device is cuda, but this process sees no CUDA device", run.Out);
    }

    /// <summary>`dotnet build` of the MSBuild example on <paramref name="repo"/>'s spec up to <paramref name="stage"/>, its
    /// stamps in <paramref name="stamps"/>, with <paramref name="switches"/> (the nodes, the verbosity, properties).</summary>
    static string[] MSBuild(TestRepo repo, TempDir stamps, string stage, params string[] switches) =>
        ["build", Path.Combine(Source, "examples", "msbuild", "PuzzleExample.proj"), "-nologo", $"-p:Configuration={Cli.Configuration}",
            $"-p:PuzzleSpec={repo.SpecPath}", $"-p:PuzzleStampDirectory={stamps.Path}", $"-p:PuzzleStage={stage}", .. switches];

    /// <summary>Cake colours parts of its lines: compare the text without the escape codes.</summary>
    static string Plain(string text) => System.Text.RegularExpressions.Regex.Replace(text, "\u001b\\[[0-9;]*m", "");

    /// <summary>The CI spec copied into <paramref name="work"/> (artifacts/ goes beside it, never into the checkout), the
    /// local tools restored, and Cake's command line for <paramref name="target"/> on it with <paramref name="store"/>.</summary>
    static (string Spec, string[] Cake) CakeOnCi(TempDir work, TempDir store, string target)
    {
        var spec = Path.Combine(work.Path, "ci.yaml");
        File.Copy(Path.Combine(Source, "pipelines", "ci.yaml"), spec);
        var restore = Cli.Wait(Cli.StartProcess("dotnet", Source, ["tool", "restore"]));
        Assert.True(restore.Exit == 0, restore.Err + restore.Out);
        return (spec, ["cake", "build.cake", $"--target={target}", $"--pipeline={spec}", $"--store={store.Path}",
            $"--configuration={Cli.Configuration}", "--no-build"]);
    }

    /// <summary>The jobs a build's output says were published, in order of name.</summary>
    static IEnumerable<string> Published(string output) =>
        System.Text.RegularExpressions.Regex.Matches(output, @"published (\w+/[\w.]+)").Select(m => m.Groups[1].Value).Distinct().Order(StringComparer.Ordinal);

    static int Count(string text, string what) => (text.Length - text.Replace(what, "").Length) / what.Length;
}
