using System.Diagnostics;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution.Slurm;

namespace Puzzle.Engine.Tests.Pipeline.Slurm;

/// <summary>The Slurm executor's inputs and task script, without a cluster.</summary>
public sealed class SlurmInputTests
{
    [Fact]
    public void Without_slurm_on_path_a_slurm_run_says_which_command_is_missing_and_writes_nothing()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var dotnet = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "dotnet")).First(File.Exists);
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = repo.Root };
        foreach (var a in new[] { Cli.Dll, "run", repo.SpecPath, "--executor", "slurm" }) start.ArgumentList.Add(a);
        start.Environment["PATH"] = repo.Root; // no Slurm commands there
        var (exit, _, err) = Cli.Wait(Process.Start(start)!);
        Assert.Equal(1, exit);
        Assert.Equal("error: the Slurm executor (executor.kind: slurm, or --executor slurm) needs Slurm's sbatch, which is not on PATH: run on a machine with Slurm's client commands " +
                     "(a login node), or run with --executor local", err.Trim());
        Assert.False(Directory.Exists(repo.Store));
    }

    [Theory]
    [InlineData("--executor slurm --in-process", "error: --in-process runs jobs in this process; it cannot be combined with the slurm executor")]
    [InlineData("--executor slurm --jobs 3", "error: --jobs limits jobs on this machine; on Slurm, executor.slurm.array_throttle limits the tasks that run at once")]
    [InlineData("--executor pbs", "Argument 'pbs' not recognized")]
    public void Options_that_do_not_fit_the_slurm_executor_are_errors(string options, string expected)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (exit, _, err) = Cli.Run(repo.Root, ["run", repo.SpecPath, .. options.Split(' ')]);
        Assert.NotEqual(0, exit);
        Assert.Contains(expected, err);
        Assert.False(Directory.Exists(repo.Store));
    }

    /// <summary>
    /// On a GPU pipeline each task of a stage that computes on the GPU asks Slurm for one GPU (or executor.slurm.gres),
    /// and a task on the CPU for none, so Data, Report or Pack never hold a GPU; on a CPU pipeline every task asks for
    /// executor.slurm.gres as written. Planned only: nothing runs, so no GPU is needed.
    /// </summary>
    [Theory]
    [InlineData("cuda", null, "gpu:1", null)]
    [InlineData("cuda", "gpu:h100:1", "gpu:h100:1", null)]
    [InlineData("cpu", "gpu:1", "gpu:1", "gpu:1")]
    [InlineData("cpu", null, null, null)]
    public void Slurm_tasks_ask_for_a_gpu_only_where_their_stage_computes_on_one(string device, string? gres, string? onGpu, string? onCpu)
    {
        using var repo = new TestRepo($"device: {device}\n" + TestRepo.MicroSpec.Replace("executor:\n  jobs: 2",
            "executor:\n  kind: slurm\n" + (gres is null ? "" : $"  slurm: {{ gres: \"{gres}\" }}\n")));
        var session = PipelineSession.Open(repo.SpecPath);
        var stages = session.Graph.Jobs.Values.Where(jobs => jobs.Count > 0).Select(jobs => jobs[0].Stage).ToDictionary(s => s.Name);
        foreach (var name in new[] { "Parent", "Distill", "Score", "Measure", "Search", "Heal", "Evaluate", "Speed" })
            Assert.True(onGpu == session.SlurmGres(stages[name]), $"{name}: {session.SlurmGres(stages[name])}, expected {onGpu}");
        foreach (var name in new[] { "Tokenizer", "Data", "Report", "Pack" })
            Assert.True(onCpu == session.SlurmGres(stages[name]), $"{name}: {session.SlurmGres(stages[name])}, expected {onCpu}");
    }

    [Fact]
    public void The_task_script_runs_the_job_on_its_line_with_paths_quoted_and_logs_the_exit_code()
    {
        using var dir = new TempDir();
        var odd = dir["it's a \"store\" $HOME"];
        var script = dir["task.sh"];
        File.WriteAllText(script, SlurmTaskScript.Text(["/bin/echo", "cli"], dir["spec.yaml"], odd, "run1"));
        var logs = new[] { dir["a b.log"], dir["c.log"] };
        File.WriteAllText(dir["list.tasks"], SlurmTaskScript.TaskList([("Distill", "layer0.ffn.ratio0.5", "k0", logs[0]), ("Score", "layer1", "k1", logs[1])]));

        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, dir["list.tasks"] }) start.ArgumentList.Add(a);
        foreach (var (k, v) in new[] { ("SLURM_ARRAY_JOB_ID", "7"), ("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_CPUS_PER_TASK", "3"), ("CUDA_VISIBLE_DEVICES", "1") })
            start.Environment[k] = v;
        var (exit, _, err) = Cli.Wait(Process.Start(start)!);
        Assert.True(exit == 0, err);

        Assert.False(File.Exists(logs[0]));
        var log = File.ReadAllLines(logs[1]);
        Assert.Matches(@"^== slurm job 7_1 on \S+ at \S+Z, 3 cpu\(s\), gpus 1$", log[0]);
        Assert.Equal($"cli job {dir["spec.yaml"]} --stage Score --id layer1 --key k1 --threads 3 --store {odd}", log[1]);
        Assert.Equal("== exit code 0", log[2]);
        Assert.Equal(0, SlurmTaskScript.ExitCode(logs[1]));
    }

    [Fact]
    public void The_exit_code_is_the_last_attempts_and_unknown_when_it_was_killed()
    {
        using var dir = new TempDir();
        var log = dir["job.log"];
        File.WriteAllText(log, "== slurm job 3_0 on n1\nboom\n== exit code 2\n== puzzle: task 3_0 ended FAILED without publishing; resubmitting\n");
        Assert.Equal(2, SlurmTaskScript.ExitCode(log));
        File.AppendAllText(log, "== slurm job 4_0 on n2\nworking\nslurm| slurmstepd: error: *** JOB 4 ON n2 CANCELLED ***\n");
        Assert.Null(SlurmTaskScript.ExitCode(log));
        Assert.Null(SlurmTaskScript.ExitCode(dir["missing.log"]));
    }

    [Fact]
    public void A_task_list_refuses_fields_that_would_break_its_lines()
    {
        var e = Assert.Throws<ArgumentException>(() => SlurmTaskScript.TaskList([("Distill", "a\tb", "k", "/x.log")]));
        Assert.Contains("Distill/a\tb", e.Message);
    }
}
