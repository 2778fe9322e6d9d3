using System.Text.Json;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The store under real processes: SIGKILL mid-job, two runs at once, malformed specs.</summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class ProcessSafetyTests
{
    [Fact]
    public async Task A_job_killed_with_sigkill_leaves_nothing_that_reads_as_a_hit_and_the_next_run_finishes()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("tokens: 3000, batch: 4", "tokens: 400000, batch: 4"));
        var (session, parent) = UpToData(repo);

        using (var job = Cli.Start(repo.Root, "job", repo.SpecPath, "--stage", "Parent", "--id", "parent", "--threads", "1"))
        {
            // the job's log (its stdout) says when it has built the model and starts training: it is then between
            // starting its staging folder and publishing it
            var training = Task.Run(() =>
            {
                while (job.StandardOutput.ReadLine() is { } line)
                    if (line.StartsWith("parent: ")) return true;
                return false;
            });
            Assert.True(await training.WaitAsync(TimeSpan.FromSeconds(120)), "the job never started training");
            Assert.True(Directory.EnumerateDirectories(Path.Combine(repo.Store, "tmp")).Any());
            Assert.False(job.HasExited, "the job finished before it could be killed");
            job.Kill(); // SIGKILL
            job.WaitForExit();
        }
        Assert.Null(session.Store.Find(parent.Key));
        Assert.False(Directory.Exists(session.Store.EntryDirectory(parent.Key)));
        Assert.Equal(JobState.Missing, session.Status("Parent").Single(s => s.Stage == "Parent").State);

        var small = repo.Root; // finish the work quickly: a smaller budget is a different key, so shrink it back
        repo.Edit("tokens: 400000", "tokens: 3000");
        var (exit, _, err) = Cli.Run(small, "run", repo.SpecPath, "--target", "Parent");
        Assert.True(exit == 0, err);
        var done = PipelineSession.Open(repo.SpecPath);
        Assert.NotNull(done.Store.Find(done.Graph.Find("Parent", "parent").Key));
    }

    [Fact]
    public async Task A_job_process_whose_launcher_is_gone_stops_instead_of_running_on()
    {
        // its run killed with SIGKILL: the job's input (the launcher's thread channel) ends; it used to train on to the
        // end, its log going nowhere and its key's lock held, and publish with no log while the next run waited on it
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("tokens: 3000, batch: 4", "tokens: 400000, batch: 4"));
        var (session, parent) = UpToData(repo);
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            WorkingDirectory = repo.Root, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { Cli.Dll, "job", repo.SpecPath, "--stage", "Parent", "--id", "parent", "--threads", "1" }) start.ArgumentList.Add(a);
        start.Environment[Puzzle.Engine.Runtime.TorchRuntime.ThreadsInputVariable] = "1";
        using var job = System.Diagnostics.Process.Start(start)!;
        _ = job.StandardError.ReadToEndAsync();
        var training = Task.Run(() =>
        {
            while (job.StandardOutput.ReadLine() is { } line)
                if (line.StartsWith("parent: ")) return true;
            return false;
        });
        Assert.True(await training.WaitAsync(TimeSpan.FromSeconds(120)), "the job never started training");
        _ = job.StandardOutput.ReadToEndAsync();

        job.StandardInput.Close(); // what the kernel does to the pipe when the run dies

        var stopped = job.WaitForExit(TimeSpan.FromSeconds(60));
        if (!stopped) job.Kill();
        Assert.True(stopped, "the job ran on after its launcher was gone");
        Assert.Equal(Puzzle.Cli.Commands.JobCommand.LauncherGone, job.ExitCode);
        Assert.Null(session.Store.Find(parent.Key));
        using (session.Store.Lock(parent.Key, TimeSpan.Zero)) { } // its lock went with it
    }

    [Fact]
    public void A_job_process_loads_libtorch_only_for_a_stage_that_uses_tensors_and_gives_it_the_launchers_threads()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        // the dynamic loader names every shared library each process opens (one file per process): the run and its
        // Tokenizer and Data jobs open no libtorch at all (a stage's dtype read while planning once loaded it in each)
        var loads = Path.Combine(repo.Root, "loads");
        Directory.CreateDirectory(loads);
        Dictionary<string, string> LoaderLog(string name) => new() { ["LD_DEBUG"] = "files", ["LD_DEBUG_OUTPUT"] = Path.Combine(loads, name) };
        string[] Opened(string name) => [.. Directory.EnumerateFiles(loads, name + ".*").SelectMany(File.ReadLines)];
        var (exit, _, err) = Cli.Run(repo.Root, LoaderLog("data"), "run", repo.SpecPath, "--target", "Data");
        Assert.True(exit == 0, err);
        Assert.True(Directory.EnumerateFiles(loads, "data.*").Count() >= 3, "the run and its Tokenizer and Data jobs each write what they load");
        Assert.Contains(Opened("data"), l => l.Contains("libcoreclr.so"));
        Assert.DoesNotContain(Opened("data"), l => l.Contains("libtorch_cpu.so"));
        (exit, _, err) = Cli.Run(repo.Root, LoaderLog("parent"), "job", repo.SpecPath, "--stage", "Parent", "--id", "parent", "--threads", "1");
        Assert.True(exit == 0, err);
        Assert.Contains(Opened("parent"), l => l.Contains("libtorch_cpu.so"));
        var session = PipelineSession.Open(repo.SpecPath);
        int? Threads(string stage, string id) =>
            session.Store.Find(session.Graph.Find(stage, id).Key)!.Manifest.Metrics["torch_threads"]?.GetValue<int>();
        Assert.Null(Threads("Tokenizer", "tokenizer")); // no tensors: libtorch never loaded
        Assert.Null(Threads("Data", "tokens"));
        Assert.Equal(1, Threads("Parent", "parent")); // the count the launcher passed, on a machine of more cores
    }

    [Fact]
    public async Task A_job_process_takes_the_thread_count_its_launcher_sends_while_it_runs()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (exit, _, err) = Cli.Run(repo.Root, "run", repo.SpecPath, "--target", "Data");
        Assert.True(exit == 0, err);
        var session = PipelineSession.Open(repo.SpecPath);
        var parent = session.Graph.Find("Parent", "parent");
        var launcher = new ProcessJobLauncher(["dotnet", Cli.Dll], repo.SpecPath, session.Store.Root);
        var log = Path.Combine(repo.Root, "parent.log");

        var job = launcher.LaunchAsync(parent, "run", log, threads: 1, CancellationToken.None);
        Assert.True(launcher.SetThreads(parent, 2)); // read by the process as it starts, taken at its first training step
        Assert.True(await job == 0, File.ReadAllText(log));

        Assert.False(launcher.SetThreads(parent, 1)); // it has ended
        Assert.Equal(2, session.Store.Find(parent.Key)!.Manifest.Metrics["torch_threads"]?.GetValue<int>());
    }

    [Fact]
    public void Two_runs_started_at_once_on_one_store_do_each_job_once_and_both_finish()
    {
        // no Sweep: its eight timed jobs lengthen this whole-pipeline test (5.4 min with them) and add nothing to what it checks
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("evaluation:\n  tokens: 400", "evaluation:\n  tokens: 400\n  speed_targets: []"));
        var first = Cli.Start(repo.Root, "run", repo.SpecPath);
        var second = Cli.Start(repo.Root, "run", repo.SpecPath);
        var a = Cli.Wait(first);
        var b = Cli.Wait(second);
        Assert.True(a.Exit == 0, a.Err);
        Assert.True(b.Exit == 0, b.Err);

        var records = Directory.GetFiles(Path.Combine(repo.Store, "runs", "test"), "2*.json")
            .Select(f => JsonDocument.Parse(File.ReadAllText(f)).RootElement).ToList();
        Assert.Equal(2, records.Count);
        var ran = records.SelectMany(r => r.GetProperty("jobs").EnumerateArray())
            .Where(j => j.GetProperty("outcome").GetString() == "Ran")
            .Select(j => j.GetProperty("stage").GetString() + "/" + j.GetProperty("job").GetString()).ToList();
        var all = PipelineSession.Open(repo.SpecPath).Graph.JobsFor(null).Select(j => j.Name).ToList();
        Assert.Equal(all.Order(), ran.Order()); // every job ran exactly once across both runs
        // each job's log is the whole log of the run that built it, never the other run's one line of waiting
        foreach (var job in records.SelectMany(r => r.GetProperty("jobs").EnumerateArray())
                     .Where(j => j.GetProperty("outcome").GetString() == "Ran" && j.TryGetProperty("log", out var l) && l.ValueKind == JsonValueKind.String))
        {
            var name = job.GetProperty("stage").GetString() + "/" + job.GetProperty("job").GetString();
            Assert.Contains($"published {name} ", File.ReadAllText(job.GetProperty("log").GetString()!));
        }
        Assert.Empty(Directory.GetFiles(Path.Combine(repo.Store, "logs"), "*.tmp-*", SearchOption.AllDirectories));
        Assert.All(PipelineSession.Open(repo.SpecPath).Status(), s => Assert.Equal(JobState.Cached, s.State));
    }

    [Theory]
    [InlineData("name: test\nparent:\n  pretrain: { layers: 2 }\ndata:\n  train: [text/*.txt]\n  seq_len: 16\nbld:\n  lr: 1e-3\n  lr: 2e-3\n", "9:3: error: duplicate key 'lr' (first at 8:3)")]
    [InlineData("name: test\nparent:\n  pretrain: { layers: 2 }\ndata:\n  train: [text/*.txt]\n  sequence_len: 16\n", "6:3: error: unknown key 'sequence_len'")]
    [InlineData("name: test\nparent:\n  pretrain: { layers: 2 }\ndata:\n  train: [missing/*.txt]\n", "5:11: error: data.train[0]: Input pattern 'missing/*.txt' matched no files")]
    public void A_malformed_spec_is_an_error_with_its_position_and_nothing_is_written(string yaml, string expected)
    {
        using var repo = new TestRepo(yaml);
        var (exit, _, err) = Cli.Run(repo.Root, "run", repo.SpecPath);
        Assert.Equal(1, exit);
        Assert.Contains($"{repo.SpecPath}:{expected}", err);
        Assert.False(Directory.Exists(repo.Store));
    }

    /// <summary>Runs a repository with a long pretraining up to Data: the Parent job is next, and takes a while.</summary>
    static (PipelineSession Session, Engine.Pipeline.Graph.JobPlan Parent) UpToData(TestRepo repo)
    {
        var (exit, _, err) = Cli.Run(repo.Root, "run", repo.SpecPath, "--target", "Data");
        Assert.True(exit == 0, err);
        var session = PipelineSession.Open(repo.SpecPath);
        return (session, session.Graph.Find("Parent", "parent"));
    }
}
