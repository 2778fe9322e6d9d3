using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A run whose job would hold more weights and training state than its device has is refused before it
/// starts, naming the stages and what they hold; one that fits starts as before.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class MemoryFitTests
{
    const long H200 = Library.BldMemoryTests.H200, H100 = Library.BldMemoryTests.H100;

    /// <summary>A Hugging Face parent folder with a Llama-3.1 shape's config.json and the fixture's tokenizer, and no
    /// weights: a run plans from the config alone, and this one must be refused before it reads any.</summary>
    static string Parent(string root, int hidden, int layers, int heads, int ffn)
    {
        var dir = Path.Combine(root, "parent");
        Directory.CreateDirectory(dir);
        var fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf-llama-tiny");
        File.Copy(Path.Combine(fixture, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture, "config.json")))!.AsObject();
        (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"], config["num_key_value_heads"]) = (hidden, layers, heads, 8);
        (config["intermediate_size"], config["head_dim"], config["vocab_size"]) = (ffn, 128, 128_256);
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        return dir;
    }

    static string Spec(string device, int layersPerProcess) => $"""
        name: big
        device: {device}
        parent: {"{"} path: parent {"}"}
        data: {"{"} train: ["text/*.txt"], seq_len: 64 {"}"}
        search_space:
          attention: {"{"} kv_heads: [4, 2], linear: false, no_op: true {"}"}
          ffn: {"{"} ratios: [0.5, 0.25], linear: false, no_op: true {"}"}
        bld: {"{"} layers_per_process: {layersPerProcess} {"}"}
        constraints: {"{"} throughput_vs_parent: 1.5 {"}"}
        """;

    static int LineOf(string specPath, string prefix) =>
        File.ReadAllLines(specPath).ToList().FindIndex(l => l.StartsWith(prefix, StringComparison.Ordinal)) + 1;

    [Fact]
    public void A_70b_parent_on_one_gpu_is_refused_before_it_starts_naming_each_stage_that_cannot_fit()
    {
        using var repo = new TestRepo(Spec("cuda", 1));
        Parent(repo.Root, 8192, 80, 64, 28_672);
        var session = PipelineSession.Open(repo.SpecPath);
        var jobs = session.Graph.JobsFor(null);

        // an 80 GB GPU: the parent alone, 70.55B parameters in bfloat16 (141 GB), does not fit, so nothing that loads it does
        var e = Assert.Throws<SpecException>(() => PreLaunchChecks.Memory(session.Spec, jobs, _ => H100));
        var error = Assert.Single(e.Errors);
        Assert.Equal((repo.SpecPath, LineOf(repo.SpecPath, "parent:")), (error.File, error.Line));
        Assert.StartsWith("Jobs would need more memory than the GPU's 79.65 GiB: Distill at least ", error.Message);
        Assert.Contains("; Score, Measure, Search, Heal, Evaluate, Sweep, Speed at least 131.42 GiB in a process (the parent's weights, 70.55B parameters in bfloat16, 131.42 GiB).", error.Message);
        Assert.DoesNotContain("layers_per_process", error.Message); // one layer per process already
        Assert.EndsWith("nothing was started.", error.Message);

        // an H200 holds the parent, but not BLD of layer 79: the parent's layers 0-79 beside four variants' training state
        e = Assert.Throws<SpecException>(() => PreLaunchChecks.Memory(session.Spec, jobs, _ => H200));
        Assert.Matches(@"^Jobs would need more memory than the GPU's 140\.40 GiB: Distill at least 1[45]\d\.\d\d GiB in a process \(the parent's embeddings and layers 0-79 in bfloat16, " +
                       @"\d+\.\d\d GiB plus 4 variants of layer 79, 809\.53M parameters at 16 bytes", e.Errors[0].Message);
        Assert.DoesNotContain("Score", e.Errors[0].Message);

        // the jobs that would start are what is checked: with layers 40-79 built, layer 39's process is the deepest
        var shallow = jobs.Where(j => j.Stage.Name != "Distill" || j.ConfigAs<Puzzle.Engine.Pipeline.Stages.DistillStage.DistillJob>().Layer < 40).ToList();
        PreLaunchChecks.Memory(session.Spec, shallow, _ => H200);
        // memory that cannot be read is not checked
        PreLaunchChecks.Memory(session.Spec, jobs, _ => null);
    }

    /// <summary>What <c>puzzle init</c> says beside a spec whose parent alone outgrows this machine: what the run's
    /// refusal names for every stage that loads the parent.</summary>
    [Fact]
    public void The_shortfall_init_reports_is_what_the_run_would_refuse()
    {
        using var repo = new TestRepo(Spec("cpu", 0));
        Parent(repo.Root, 8192, 80, 64, 28_672);
        var session = PipelineSession.Open(repo.SpecPath);
        const long laptop = 24L << 30;

        var shortfall = PreLaunchChecks.ParentShortfall(session.Spec, _ => laptop);
        var refusal = Assert.Throws<SpecException>(() => PreLaunchChecks.Memory(session.Spec, session.Graph.JobsFor(null), _ => laptop));
        const string holds = "the parent's weights, 70.55B parameters in float32, 262.83 GiB";
        Assert.Contains(holds, Assert.Single(refusal.Errors).Message);
        Assert.StartsWith($"{holds} alone need more memory than this machine's 24.00 GiB, so puzzle run refuses this spec here; on a GPU", shortfall);
        Assert.Null(PreLaunchChecks.ParentShortfall(session.Spec, _ => 300L << 30));
        Assert.Null(PreLaunchChecks.ParentShortfall(session.Spec, _ => null)); // memory that cannot be read is not checked
    }

    [Fact]
    public void Layers_per_process_that_hold_too_much_are_named_with_the_way_out()
    {
        using var repo = new TestRepo(Spec("cuda", 16));
        Parent(repo.Root, 4096, 32, 32, 14_336); // Llama-3.1-8B's shape
        var session = PipelineSession.Open(repo.SpecPath);
        var jobs = session.Graph.JobsFor(null);

        var e = Assert.Throws<SpecException>(() => PreLaunchChecks.Memory(session.Spec, jobs, _ => 64_000_000_000));
        Assert.Contains("Distill ", e.Errors[0].Message);
        Assert.Contains("64 variants of layers 16-31", e.Errors[0].Message); // the deeper block holds more of the parent
        Assert.DoesNotContain("layers 0-15", e.Errors[0].Message); // the first fits; only the largest process is named
        Assert.Contains("Fewer layers per process (bld.layers_per_process; this run would train 16 per process)", e.Errors[0].Message);
        Assert.Matches(@"with one layer per process, layer 31's holds at least 1\d\.\d\d GiB\.", e.Errors[0].Message); // 7.5B parameters in bfloat16 and 0.2B trained
        Assert.DoesNotContain("Heal", e.Errors[0].Message); // 16 GB of parent weights fit

        // an H200 holds 16 layers' variants beside the parent: the run starts
        PreLaunchChecks.Memory(session.Spec, jobs, _ => H200);
    }

    [Fact]
    public void On_the_cpu_the_parent_in_float32_is_counted_against_this_machines_memory_through_the_cli()
    {
        using var repo = new TestRepo(Spec("cpu", 0));
        Parent(repo.Root, 8192, 80, 64, 28_672);
        if (PlanMemory.Of(DeviceKind.Cpu) > 300_000_000_000) return; // 70.55B float32 parameters fit this machine

        var (exit, _, err) = CliRunner.Run("run", repo.SpecPath, "--in-process");

        Assert.Equal(1, exit);
        Assert.StartsWith($"{repo.SpecPath}:{LineOf(repo.SpecPath, "parent:")}:", err);
        Assert.Contains("error: Jobs would need more memory than this machine's ", err);
        Assert.Contains("(the parent's weights, 70.55B parameters in float32, 262.83 GiB)", err);
        // this machine's memory holds no layer's process by the estimate, so the plan is one layer per process: the last one's is named
        Assert.Contains("Distill at least 270.98 GiB in a process (the parent's embeddings and layers 0-79 in float32, 258.92 GiB plus 4 variants of layer 79, ", err);
        Assert.DoesNotContain("Fewer layers per process", err);
        Assert.Contains("On a GPU (device: cuda), weights take half the bytes", err);
        Assert.False(Directory.Exists(Path.Combine(repo.Store, "logs")), "no job may have started");
    }

    [Fact]
    public void Float32_on_a_gpu_is_told_that_bfloat16_halves_it()
    {
        using var repo = new TestRepo(Spec("cuda", 1) + "\ndtype: float32\n");
        Parent(repo.Root, 4096, 32, 32, 14_336);
        var session = PipelineSession.Open(repo.SpecPath);

        var e = Assert.Throws<SpecException>(() => PreLaunchChecks.Memory(session.Spec, session.Graph.JobsFor(null), _ => 24_000_000_000));
        Assert.Contains("(the parent's weights, 8.03B parameters in float32, 29.92 GiB)", e.Errors[0].Message);
        Assert.Contains("dtype: bfloat16 halves every weight.", e.Errors[0].Message);
        PreLaunchChecks.Memory(session.Spec with { Dtype = null }, session.Graph.JobsFor(null), _ => 24_000_000_000); // in bfloat16 it starts
    }
}
