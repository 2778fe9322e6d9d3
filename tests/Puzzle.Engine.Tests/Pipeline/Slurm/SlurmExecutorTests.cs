using System.Diagnostics;
using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Execution.Slurm;

namespace Puzzle.Engine.Tests.Pipeline.Slurm;

/// <summary>
/// The Slurm executor on a real cluster (real sbatch, squeue, scancel): <c>pipelines/ci.yaml</c>'s block library
/// through job arrays, a task cancelled mid-run, a task that fails with an error of its own, Ctrl-C, a refused submission.
/// </summary>
[Collection(nameof(SlurmCollection))]
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public sealed class SlurmExecutorTests(SlurmCluster cluster)
{
    /// <summary>No test waits on the cluster forever: past this the run is cancelled (its arrays too) and the test fails.</summary>
    static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    [Fact]
    public async Task Bld_through_slurm_has_the_local_executors_job_keys_and_cached_results()
    {
        using var repo = new SlurmRepo(seed: cluster.Upstream);
        var session = repo.Open();
        using (var plain = new TempDir())
        {
            // the executor section is no part of any job's key: the same jobs as the committed ci.yaml (but Pack and
            // Publish, which package the spec file as written and so hash its bytes)
            static IEnumerable<(string, string)> Keys(PipelineSession s) =>
                s.Graph.JobsFor(null).Where(j => j.Stage.Name is not ("Pack" or "Publish")).Select(j => (j.Name, j.Key));
            var ci = PipelineSession.Open(SlurmRepo.OriginalSpec, plain.Path);
            Assert.Equal(Keys(ci), Keys(session));
        }
        var console = new Transcript();
        RunSummary onSlurm;
        string? submissions;
        using (var launcher = repo.Launcher(session, console.Writer))
        {
            onSlurm = await session.RunAsync("Distill", launcher, console.Writer, Deadline());
            submissions = launcher.RunDirectory;
        }
        var distill = session.Graph.Jobs["Distill"];
        Assert.True(onSlurm.Succeeded, console.Text);
        Assert.Equal(distill.Select(j => j.Name).Order(), onSlurm.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}").Order());
        // one task trains every variant from one pass of the parent; the others are its companions, published by it
        Assert.Single(Regex.Matches(console.Text, @"slurm  Distill: 1 job as array \d+ \(at most 4 at once\)"));
        Assert.Equal(distill.Count - 1, Regex.Matches(console.Text, @"done   Distill/\S+ \(built with ").Count);
        foreach (var record in onSlurm.Where(JobOutcome.Ran).Where(r => r.Log is not null))
        {
            var log = File.ReadAllLines(record.Log!);
            Assert.Matches(@"^== slurm job \d+_\d+ on \S+ at \S+, 1 cpu\(s\), gpus [01]$", log[0]); // one of the two fake GPUs
            Assert.Equal("== exit code 0", log[^1]);
        }
        Assert.False(Directory.Exists(submissions), "the run's submission folder is removed when every task is settled");

        // the same jobs through the local executor, as `puzzle job` processes from the same upstream entries
        using var local = new SlurmRepo(executor: "", seed: cluster.Upstream);
        var here = local.Open();
        var launcherHere = new ProcessJobLauncher(["dotnet", Cli.Dll], here.Spec.SourcePath, here.Store.Root);
        var onHost = await here.RunAsync("Distill", launcherHere, TextWriter.Null, Deadline(), threadsPerJob: 1);
        Assert.True(onHost.Succeeded);
        Assert.Equal(onSlurm.Jobs.Select(j => (j.Stage, j.Job, j.Key, j.Outcome)), onHost.Jobs.Select(j => (j.Stage, j.Job, j.Key, j.Outcome)));
        foreach (var job in distill)
        {
            var (a, b) = (session.Store.Find(job.Key)!.Manifest, here.Store.Find(job.Key)!.Manifest);
            Assert.Equal(b.Files, a.Files); // weights and loss curve, byte for byte
            Assert.Equal(b.Metrics["final_nmse"]!.GetValue<double>(), a.Metrics["final_nmse"]!.GetValue<double>());
        }
    }

    [Fact]
    public async Task A_task_cancelled_with_scancel_mid_run_is_resubmitted_and_the_pipeline_finishes()
    {
        // a parent of its own: a few seconds of work, so there is time to cancel it halfway
        using var repo = new SlurmRepo(seed: cluster.Upstream, edit: y => SlurmRepo.ParentTokens(y, 50_000));
        var session = repo.Open();
        var console = new Transcript();
        using var launcher = repo.Launcher(session, console.Writer);
        var run = session.RunAsync("Parent", launcher, console.Writer, Deadline());

        var log = Path.Combine(session.Store.Root, "logs", "ci", "Parent", "parent.log");
        // while it runs, the job writes this run's private log beside parent.log (RunLogs); it replaces parent.log at the end
        var task = await WaitFor(() => (Directory.Exists(Path.GetDirectoryName(log)) ? Directory.GetFiles(Path.GetDirectoryName(log)!, ".parent.log.tmp-*") : [])
            .Select(File.ReadAllText).FirstOrDefault(t => t.Contains("pretrain [")) is { } text
            ? Regex.Match(text, @"== slurm job (\d+_\d+) ").Groups[1].Value : null, run);
        Assert.True(Slurm("scancel", task).Exit == 0);

        var summary = await run;
        Assert.True(summary.Succeeded, console.Text + File.ReadAllText(log));
        Assert.Equal(["Parent/parent"], summary.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}"));
        var text = File.ReadAllText(log);
        Assert.Contains($"{SlurmJobLauncher.NotePrefix}task {task} ended CANCELLED without publishing; resubmitting (attempt 2 of 2)", text);
        Assert.Equal(2, Regex.Matches(text, "^== slurm job ", RegexOptions.Multiline).Count);
        Assert.EndsWith("== exit code 0\n", text);
        Assert.Contains($"Parent/parent: task {task} ended CANCELLED without publishing; resubmitting", console.Text);
        Assert.NotNull(session.Store.Find(session.Graph.Find("Parent", "parent").Key));
    }

    [Fact]
    public async Task A_task_that_ends_on_a_filesystem_error_that_may_pass_is_resubmitted_and_the_pipeline_finishes()
    {
        using var repo = new SlurmRepo(seed: cluster.Upstream, edit: y => SlurmRepo.ParentTokens(y, 2_000));
        var session = repo.Open();
        // the first Parent task meets a stale mount: `puzzle job` then exits 75 (JobExitTests); the next one runs as usual
        var once = Path.Combine(repo.Root, "failed-once");
        var flaky = Path.Combine(repo.Root, "flaky-puzzle.sh");
        File.WriteAllText(flaky, $$"""
            if [[ " $* " == *" --stage Parent "* && ! -e '{{once}}' ]]; then
              touch '{{once}}'; echo "error: Stale file handle : '/shared/store'" >&2; exit {{JobExit.PassingError}}
            fi
            exec dotnet '{{Cli.Dll}}' "$@"
            """);
        var console = new Transcript();
        RunSummary summary;
        using (var launcher = session.SlurmLauncher(["bash", flaky], console.Writer))
            summary = await session.RunAsync("Parent", launcher, console.Writer, Deadline());

        var log = File.ReadAllText(Path.Combine(session.Store.Root, "logs", "ci", "Parent", "parent.log"));
        Assert.True(summary.Succeeded, console.Text + log);
        Assert.True(File.Exists(once));
        Assert.Equal(["Parent/parent"], summary.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}"));
        Assert.Matches(@"Stale file handle[^\n]*\n== exit code 75\n== puzzle: task \d+_\d+ ended \w+ with exit code 75 \(a filesystem error that may pass\) " +
                       @"without publishing; resubmitting \(attempt 2 of 2\)\n", log);
        Assert.EndsWith("== exit code 0\n", log);
        Assert.Matches(@"Parent/parent: task \d+_\d+ ended \w+ with exit code 75 \(a filesystem error that may pass\) without publishing; resubmitting", console.Text);
    }

    [Fact]
    public async Task A_task_that_fails_with_an_error_of_its_own_is_not_resubmitted_and_stops_only_what_depends_on_it()
    {
        using var repo = new SlurmRepo(seed: cluster.Upstream);
        var session = repo.Open();
        // the spec changes under the run for one variant: its task refuses to build another key than planned, every time
        repo.Edit("bld:\n  tokens: 4000\n", "bld:\n  tokens: 4000\n  variants:\n    - { match: layer0.ffn.linear, lr: 0.003 }\n");
        var (summary, console) = await RunOnSlurm(repo, session, "Score");

        var failed = Assert.Single(summary.Where(JobOutcome.Failed));
        Assert.Equal("Distill/layer0.ffn.linear", $"{failed.Stage}/{failed.Job}");
        Assert.Equal(Path.Combine(session.Store.Root, "logs", "ci", "Distill", "layer0.ffn.linear.failed.log"), failed.Log);
        var log = File.ReadAllText(failed.Log!);
        Assert.Contains("the spec changed during the run", log);
        // tried once, though retries allow another: the job's own error (exit 1) would come back
        Assert.Single(Regex.Matches(log, "^== exit code 1$", RegexOptions.Multiline));
        Assert.Matches(@"== puzzle: task \d+_\d+ ended FAILED with exit code 1, an error of the job's own \(above\), which a resubmission would repeat: not submitted again\n$", log);
        Assert.Contains($"FAILED Distill/layer0.ffn.linear (exit 1); log: {failed.Log}", console.Text);

        Assert.Equal(["Score/layer0"], summary.Where(JobOutcome.Skipped).Select(j => $"{j.Stage}/{j.Job}"));
        Assert.Equal(["Distill/layer0.attention.linear", "Distill/layer0.ffn.ratio0.5", "Distill/layer1.attention.linear",
                      "Distill/layer1.ffn.linear", "Distill/layer1.ffn.ratio0.5", "Score/layer1"],
            summary.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}").Order());
    }

    [Fact]
    public async Task Interrupting_puzzle_run_cancels_the_pipelines_jobs_on_the_cluster()
    {
        using var repo = new SlurmRepo(seed: cluster.Upstream, edit: y => SlurmRepo.ParentTokens(y, 4_000_000));
        using var run = Cli.Start(repo.Root, "run", repo.SpecPath, "--target", "Parent");
        var err = new StringWriter();
        var stderr = Task.Run(async () =>
        {
            while (await run.StandardError.ReadLineAsync() is { } line) lock (err) err.WriteLine(line);
        });
        var stdout = run.StandardOutput.ReadToEndAsync();
        string Err() { lock (err) return err.ToString(); }

        var array = await WaitFor(() => Regex.Match(Err(), @"slurm  Parent: 1 job as array (\d+)") is { Success: true } m ? m.Groups[1].Value : null, stderr);
        await WaitFor(() => Slurm("squeue", "--noheader", "--format=%T", "--jobs=" + array).Output.Trim() == "RUNNING" ? "" : null, stderr);

        // Ctrl-C; a test host that ignores SIGINT (started in the background) passes that on, so then SIGTERM, the same handler
        var signal = SigIntIgnored() ? "-TERM" : "-INT";
        Assert.Equal(0, Slurm("kill", signal, run.Id.ToString()).Exit);
        Assert.True(run.WaitForExit(TimeSpan.FromSeconds(60)), "puzzle run did not stop");
        await stderr;
        Assert.True(run.ExitCode == 130, $"exit {run.ExitCode}: {Err()}{await stdout}");
        Assert.Contains($"slurm  cancelled array {array}", Err());
        Assert.Contains("cancelled: what finished stays cached", Err());
        var state = await WaitFor(() => Slurm("squeue", "--noheader", "--states=all", "--format=%T", "--jobs=" + array).Output.Trim()
            is var s && s is not ("RUNNING" or "PENDING" or "COMPLETING") ? s : null, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(state is "CANCELLED" or "", $"array {array} is {state}");
        Assert.Null(repo.Open().Store.Find(repo.Open().Graph.Find("Parent", "parent").Key));
    }

    /// <summary>With a look at the queue only every 10 minutes, the Distill task is done as soon as its log ends with
    /// exit code 0 and its entries are in the store.</summary>
    [Fact]
    public async Task A_task_that_published_is_done_without_waiting_for_the_next_look_at_the_queue()
    {
        using var repo = new SlurmRepo(SlurmRepo.Executor.Replace("poll_seconds: 1", "poll_seconds: 600"), seed: cluster.Upstream);
        var session = repo.Open();
        var (summary, console) = await RunOnSlurm(repo, session, "Distill", TimeSpan.FromMinutes(2));
        Assert.True(summary.Succeeded, console.Text);
        Assert.All(summary.Where(JobOutcome.Ran), j => Assert.NotNull(session.Store.Find(j.Key)));
    }

    [Fact]
    public async Task A_submission_slurm_refuses_is_an_error_naming_the_spec_field()
    {
        using var repo = new SlurmRepo(SlurmRepo.Executor.Replace("gres: \"gpu:1\"", "partition: nosuch"));
        var session = repo.Open();
        using var launcher = repo.Launcher(session, TextWriter.Null);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => session.RunAsync("Parent", launcher, TextWriter.Null, Deadline()));
        Assert.StartsWith("Slurm refused the Fetch array (1 job): sbatch: error: invalid partition specified: nosuch", e.Message);
        Assert.EndsWith("(executor.slurm.partition is 'nosuch')", e.Message);
    }

    /// <summary>The cluster enforces memory (the accounting plugin kills a task above its --mem): a Distill task given
    /// 50 MB is killed, and is not submitted again although retries allow it, since the same request would run out
    /// again; its job fails saying so and naming the field to change. The plugin samples each task once a second, so
    /// the tasks train long enough to be seen: at ci.yaml's budget one finished unseen in one CI run of three.</summary>
    [Fact]
    public async Task A_task_killed_at_its_memory_limit_is_not_resubmitted_and_fails_naming_the_field()
    {
        using var repo = new SlurmRepo(SlurmRepo.Executor.Replace("retries: 1", "retries: 1, extra: [\"--mem=50M\"]"), seed: cluster.Upstream,
            edit: y => SlurmRepo.BldTokens(y, 400_000));
        var session = repo.Open();
        var (summary, console) = await RunOnSlurm(repo, session, "Distill");

        // the process that trains every variant runs out, and then each variant's own
        var failed = summary.Where(JobOutcome.Failed).ToList();
        Assert.Equal(session.Graph.Jobs["Distill"].Select(j => j.Id).Order(), failed.Where(j => j.Stage == "Distill").Select(j => j.Job).Order());
        Assert.Equal(failed.Count, failed.Count(j => j.Stage == "Distill"));
        foreach (var job in failed)
        {
            var log = File.ReadAllText(job.Log!);
            Assert.Single(Regex.Matches(log, "^== slurm job ", RegexOptions.Multiline)); // one attempt: retries: 1 is not used
            Assert.Matches(@"slurm\| slurmstepd.*: error: .*[Ee]xceeded (job |step )?memory limit", log);
            Assert.Matches(@"== puzzle: task \d+_\d+ ended \w+: it ran out of the memory Slurm gave it, and the same request would run out again, " +
                           @"so it is not submitted again: ask for more with --mem or --mem-per-cpu \(executor\.slurm\.extra: --mem=50M\)", log);
            Assert.Matches($@"slurm  {Regex.Escape(job.Stage + "/" + job.Job)}: task \d+_\d+ ran out of the memory Slurm gave it; not resubmitted", console.Text);
        }
        Assert.DoesNotContain("resubmitting", console.Text);
    }

    /// <summary>The cluster's "short" partition allows a minute; a task that asks for ten is accepted and left pending for
    /// PartitionTimeLimit (Slurm's default EnforcePartLimits=NO) forever. The run cancels it and fails its job with the
    /// reason and the spec field, rather than wait.</summary>
    [Fact]
    public async Task A_task_slurm_would_never_start_is_cancelled_and_fails_naming_the_reason_and_the_spec_field()
    {
        using var repo = new SlurmRepo(SlurmRepo.Executor.Replace("gres: \"gpu:1\"", "partition: short, time: \"00:10:00\""));
        var session = repo.Open();
        var (summary, console) = await RunOnSlurm(repo, session, "Parent");

        var failed = Assert.Single(summary.Where(JobOutcome.Failed));
        Assert.Equal("Fetch", failed.Stage);
        Assert.Contains("slurm  Fetch: tasks pending for PartitionTimeLimit: its time limit is above its partition's " +
                        "(executor.slurm.time is '00:10:00'); Slurm would never start them as submitted: cancelled", console.Text);
        var task = Regex.Match(File.ReadAllText(failed.Log!), @"== puzzle: task (\d+_\d+) cancelled: Slurm would never start it as submitted: " +
                                                              @"pending for PartitionTimeLimit: its time limit is above its partition's").Groups[1].Value;
        Assert.NotEmpty(task);
        Assert.Contains($"FAILED {failed.Stage}/{failed.Job} (exit 1)", console.Text);
        Assert.Equal(summary.Jobs.Count - 1, summary.Where(JobOutcome.Skipped).Count());
        var state = Slurm("squeue", "--noheader", "--states=all", "--format=%T", "--jobs=" + task.Split('_')[0]).Output.Trim();
        Assert.True(state is "CANCELLED" or "", $"task {task} is {state}");
    }

    /// <summary>A stage's own request (executor.slurm.stages) goes to that stage's tasks only: Tokenizer's asks the
    /// one-minute partition for ten minutes, which Slurm would never start, and fails naming its entry; Fetch's task,
    /// under executor.slurm but for its own CPU count, ran on two CPUs, where a single-threaded stage asks for one.</summary>
    [Fact]
    public async Task A_stages_own_request_goes_to_its_tasks_only_and_is_named_when_slurm_would_never_start_them()
    {
        using var repo = new SlurmRepo(SlurmRepo.Executor.Replace("kind: slurm", "kind: slurm\n  threads_per_job: 2").Replace("gres: \"gpu:1\"",
            "stages: [{ stage: Fetch, threads_per_job: 2 }, { stage: tokenizer, partition: short, time: \"00:10:00\" }]"));
        var session = repo.Open();
        var (summary, console) = await RunOnSlurm(repo, session, "Data");

        Assert.Equal("Fetch Ran; Tokenizer Failed; Data Skipped", string.Join("; ", summary.Jobs.Select(j => $"{j.Stage} {j.Outcome}")));
        Assert.Matches(@"^== slurm job \d+_\d+ on \S+ at \S+, 2 cpu\(s\)$", File.ReadLines(summary.Jobs[0].Log!).First()); // Fetch's own count
        Assert.Matches(@"run    Fetch/\S+ \(2 threads\)", console.Text);
        Assert.Contains("run    Tokenizer/tokenizer (1 thread)", console.Text); // single-threaded, whatever executor.threads_per_job says
        Assert.Contains("slurm  Tokenizer: tasks pending for PartitionTimeLimit: its time limit is above its partition's " +
                        "(executor.slurm.stages[1] (Tokenizer).time is '00:10:00'); Slurm would never start them as submitted: cancelled", console.Text);
    }

    /// <summary>A task held in the queue (sbatch --hold) has not run for the ETA, however long it waits; once released, it
    /// has run since its log first grew.</summary>
    [Fact]
    public async Task A_task_waiting_in_the_queue_has_not_run_and_one_released_has()
    {
        using var repo = new SlurmRepo(SlurmRepo.Executor.Replace("retries: 1", "retries: 1, extra: [--hold]"), seed: cluster.Upstream);
        var session = repo.Open();
        var console = new Transcript();
        using var launcher = repo.Launcher(session, console.Writer);
        var run = session.RunAsync("Distill", launcher, console.Writer, Deadline());
        var array = await WaitFor(() => Regex.Match(console.Text, @"slurm  Distill: 1 job as array (\d+)") is { Success: true } m ? m.Groups[1].Value : null, run);
        await WaitFor(() => console.Text.Contains("slurm  Distill: tasks pending for JobHeldUser") ? "" : null, run); // a look at the queue saw it held
        var distill = session.Graph.Jobs["Distill"];
        Assert.All(distill, j => Assert.Equal(TimeSpan.Zero, launcher.RunningFor(j)));

        Assert.Equal(0, Slurm("scontrol", "release", array).Exit);
        await WaitFor(() => distill.Any(j => launcher.RunningFor(j) > TimeSpan.Zero) ? "" : null, run);
        Assert.True((await run).Succeeded, console.Text);
    }

    /// <summary>Runs <paramref name="target"/> through a Slurm launcher, disposed after it, within <paramref name="until"/>
    /// (default: <see cref="Deadline"/>'s); returns the run's record and what it printed.</summary>
    static async Task<(RunSummary Summary, Transcript Console)> RunOnSlurm(SlurmRepo repo, PipelineSession session, string target, TimeSpan? until = null)
    {
        var console = new Transcript();
        using var launcher = repo.Launcher(session, console.Writer);
        var deadline = until is { } limit ? new CancellationTokenSource(limit).Token : Deadline();
        return (await session.RunAsync(target, launcher, console.Writer, deadline), console);
    }

    /// <summary>What a run printed, written from the executor's and the launcher's threads.</summary>
    sealed class Transcript
    {
        readonly StringWriter _text = new();
        public Transcript() => Writer = TextWriter.Synchronized(_text);
        public TextWriter Writer { get; }
        public string Text { get { lock (Writer) return _text.ToString(); } }
    }

    /// <summary>Polls <paramref name="probe"/> until it gives a value; fails if <paramref name="until"/> ends first.</summary>
    static async Task<string> WaitFor(Func<string?> probe, Task until)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } value) return value;
            if (until.IsCompleted) break;
            await Task.Delay(100);
        }
        if (probe() is { } last) return last;
        throw new TimeoutException(until.IsCompleted ? "the run ended before the awaited moment" : "waited 3 minutes in vain");
    }

    static (int Exit, string Output) Slurm(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    /// <summary>Whether this process ignores SIGINT (and so its children do): bit 1 of SigIgn in /proc/self/status.</summary>
    static bool SigIntIgnored() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:")) is { } line &&
        (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0x2) != 0;
}
