using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tests.Cli;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Problems knowable before a run starts are one error, pointing at the spec field or the flag; nothing starts.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class PreLaunchTests
{
    /// <summary>A launcher that must never be asked: counts what it is asked to start.</summary>
    sealed class CountingLauncher : IJobLauncher
    {
        public int Launched;
        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            Interlocked.Increment(ref Launched);
            return Task.FromResult(1);
        }
    }

    [Fact]
    public async Task Device_cuda_in_the_spec_without_a_gpu_is_one_error_at_the_field_and_nothing_starts()
    {
        Fixtures.Torch();
        if (cuda.is_available()) return; // the GPU path is checked by examples/gpu/device-check.sh
        using var repo = new TestRepo(TestRepo.MicroSpec + "\ndevice: cuda\n");
        var line = File.ReadAllLines(repo.SpecPath).ToList().FindIndex(l => l.StartsWith("device:", StringComparison.Ordinal)) + 1;
        var session = PipelineSession.Open(repo.SpecPath);
        var launcher = new CountingLauncher();

        var e = await Assert.ThrowsAsync<SpecException>(() => session.RunAsync(null, launcher, TextWriter.Null));

        var error = Assert.Single(e.Errors);
        Assert.Equal((repo.SpecPath, line, 9), (error.File, error.Line, error.Column));
        Assert.StartsWith("device is cuda, but this process sees no CUDA device", error.Message);
        Assert.Contains("Or set device: cpu.", error.Message);
        Assert.Contains("nothing was started", error.Message);
        Assert.Equal(0, launcher.Launched);
        Assert.False(Directory.Exists(Path.Combine(repo.Store, "logs")), "no job may have written a log");
    }

    [Theory]
    [InlineData("{ throughput_vs_parent: 0.5 }", "throughput_vs_parent: 0.5")]
    [InlineData("{ throughput_vs_parent: 1, memory_vs_parent: 3 }", "throughput_vs_parent: 1, memory_vs_parent: 3")]
    public void A_search_under_constraints_the_parent_meets_already_is_refused_before_anything_starts(string constraints, string named)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        repo.Edit("constraints:\n  throughput_vs_parent: 1.5", $"constraints: {constraints}");

        var (exit, _, err) = CliRunner.Run("run", repo.SpecPath, "--target", "Search", "--in-process");

        Assert.Equal(1, exit);
        Assert.Contains($"error: constraints asks nothing the parent does not meet already ({named}), so the search would choose the parent itself", err);
        Assert.Contains("nothing was started", err);
        Assert.False(Directory.Exists(Path.Combine(repo.Store, "logs")), "no job may have written a log");
    }

    /// <summary>The micro parent: vocabulary 300, hidden 32, untied embeddings, so every child keeps 2·300·32 + 32 = 19,232
    /// parameters; each of its two layers has 3,104 in attention (q and o 32×32, k and v 32×16, its norm 32) and 6,176 in
    /// its FFN (3·32·64 and its norm): 37,792 in all. With no_op attention and FFN the smallest child is the kept part
    /// alone, 0.509× the parent. The parent's KV cache at batch 4 × (16 + 8) tokens is 2 layers × 2·2·8 values per
    /// token, 6,144 values, so memory is 19,232 / (37,792 + 6,144) = 0.438× the parent's at least; 4 bytes per value on
    /// the CPU.</summary>
    [Theory]
    [InlineData("{ params_vs_parent: 0.4 }", "constraints.params_vs_parent is 0.4, but the smallest child the search space allows reaches 0.509× the parent (19,232 of the parent's 37,792 parameters")]
    [InlineData("{ throughput_vs_parent: 1.5, memory_vs_parent: 0.4 }", "constraints.memory_vs_parent is 0.4, but the smallest child the search space allows reaches 0.438× the parent (76,928 of the parent's 175,744 bytes")]
    [InlineData("{ memory_bytes: 50000 }", "constraints.memory_bytes is 50,000, but the smallest child the search space allows needs 76,928 bytes (weights and KV cache in float32")]
    public void A_parameter_or_memory_limit_below_the_smallest_child_is_refused_before_anything_starts_naming_the_least_reachable(string constraints, string expected)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec + "\nscenario: { batch: 4, prompt: 16, generate: 8 }\n");
        repo.Edit("constraints:\n  throughput_vs_parent: 1.5", $"constraints: {constraints}");

        var (exit, _, err) = CliRunner.Run("run", repo.SpecPath, "--target", "Search", "--in-process");

        Assert.Equal(1, exit);
        Assert.Contains(expected, err);
        Assert.Contains("nothing was started", err);
        Assert.False(Directory.Exists(Path.Combine(repo.Store, "logs")), "no job may have written a log");

        // just at the smallest child, the limit is reachable and the run goes ahead to its first stage
        repo.Edit($"constraints: {constraints}", "constraints: { params_vs_parent: 0.509, memory_vs_parent: 0.438, memory_bytes: 76928 }");
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Tokenizer", "--in-process").Exit);
    }

    [Fact]
    public void A_search_under_no_constraint_is_refused_before_anything_starts_and_earlier_stages_still_run()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        repo.Edit("constraints:\n  throughput_vs_parent: 1.5", "constraints: {}");

        var (exit, _, err) = CliRunner.Run("run", repo.SpecPath, "--target", "Search", "--in-process");

        Assert.Equal(1, exit);
        Assert.Contains("error: constraints gives no limit, so the search would choose the parent itself", err);
        Assert.Contains("nothing was started", err);
        Assert.False(Directory.Exists(Path.Combine(repo.Store, "logs")), "no job may have written a log");
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Tokenizer", "--in-process").Exit);
    }

    /// <summary>A push to a server without its key would fail only after every stage before it had run.</summary>
    [Fact]
    public void Publishing_to_a_server_without_its_key_is_refused_before_anything_starts()
    {
        const string variable = "PUZZLE_TEST_KEY_NOBODY_SETS";
        Assert.Null(Environment.GetEnvironmentVariable(variable));
        using var repo = new TestRepo(TestRepo.MicroSpec + $"\npack: {{ source: \"https://feed.invalid/v3/index.json\", api_key_env: {variable} }}\n");
        var line = File.ReadAllLines(repo.SpecPath).ToList().FindIndex(l => l.StartsWith("pack:", StringComparison.Ordinal)) + 1;

        var (exit, _, err) = CliRunner.Run("run", repo.SpecPath, "--target", "Publish", "--in-process");

        Assert.Equal(1, exit);
        Assert.Contains($"{repo.SpecPath}:{line}:", err);
        Assert.Contains($"pack.source https://feed.invalid/v3/index.json needs an API key, but the environment variable {variable} (pack.api_key_env) is not set here", err);
        Assert.Contains("nothing was started", err);
        Assert.False(Directory.Exists(Path.Combine(repo.Store, "logs")), "no job may have written a log");
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Tokenizer", "--in-process").Exit); // not publishing: no key needed
    }

    [Fact]
    public void The_device_flag_is_blamed_when_it_asked_for_cuda_and_cached_logs_stay()
    {
        Fixtures.Torch();
        if (cuda.is_available()) return;
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (ok, _, _) = CliRunner.Run("run", repo.SpecPath, "--target", "Tokenizer", "--in-process");
        Assert.Equal(0, ok);
        var logs = Directory.GetFiles(Path.Combine(repo.Store, "logs"), "*.log", SearchOption.AllDirectories)
            .ToDictionary(f => f, File.ReadAllText);

        var (exit, _, err) = CliRunner.Run("run", repo.SpecPath, "--device", "cuda", "--in-process");

        Assert.Equal(1, exit);
        Assert.StartsWith("error: --device is cuda, but this process sees no CUDA device", err);
        Assert.Contains("Or leave out --device cuda.", err);
        Assert.DoesNotContain("set device: cpu", err);
        Assert.Contains("nothing was started", err);
        Assert.DoesNotContain("run    ", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.All(logs, l => Assert.Equal(l.Value, File.ReadAllText(l.Key)));
    }

    [Fact]
    public async Task Costs_measured_on_cuda_blame_scenario_device()
    {
        Fixtures.Torch();
        if (cuda.is_available()) return;
        using var repo = new TestRepo(TestRepo.MicroSpec + "\nscenario: { device: cuda }\n");
        var session = PipelineSession.Open(repo.SpecPath);

        var e = await Assert.ThrowsAsync<SpecException>(() => session.RunAsync("Measure", new CountingLauncher(), TextWriter.Null));

        var error = Assert.Single(e.Errors);
        Assert.StartsWith("scenario.device is cuda, but this process sees no CUDA device", error.Message);
        Assert.Contains("(Measure) would run on CUDA", error.Message);
        Assert.Equal(File.ReadAllLines(repo.SpecPath).ToList().FindIndex(l => l.StartsWith("scenario:", StringComparison.Ordinal)) + 1, error.Line);
        // a target that needs no timing starts as usual
        Assert.True((await session.RunAsync("Data", session.InProcessLauncher(), TextWriter.Null)).Succeeded);
    }

    [Fact]
    public async Task Cuda_graphs_timed_on_the_cpu_are_one_error_at_scenario_runtime_and_jobs_that_time_nothing_still_run()
    {
        Fixtures.Torch();
        using var repo = new TestRepo(TestRepo.MicroSpec + "\nscenario: { runtime: cuda_graphs }\n");
        var session = PipelineSession.Open(repo.SpecPath);
        var launcher = new CountingLauncher();

        var e = await Assert.ThrowsAsync<SpecException>(() => session.RunAsync("Measure", launcher, TextWriter.Null));

        var error = Assert.Single(e.Errors);
        Assert.Equal(File.ReadAllLines(repo.SpecPath).ToList().FindIndex(l => l.StartsWith("scenario:", StringComparison.Ordinal)) + 1, error.Line);
        Assert.StartsWith("scenario.runtime is cuda_graphs, but timings (Measure) run on cpu", error.Message);
        Assert.Contains("Set runtime: eager, or time on cuda; nothing was started.", error.Message);
        Assert.Equal(0, launcher.Launched);
        Assert.True((await session.RunAsync("Data", session.InProcessLauncher(), TextWriter.Null)).Succeeded);
    }
}
