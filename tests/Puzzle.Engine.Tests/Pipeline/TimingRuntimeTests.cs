using Puzzle.Engine.Cost;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary><c>scenario.runtime</c>: timings run eagerly or as CUDA graphs; what the costs describe is in the key, the
/// cost model's name and the speeds, and CUDA graphs off a CUDA device are an error before anything is timed. (The
/// graphs themselves run on a GPU: examples/gpu/scale-check.sh.)</summary>
public sealed class TimingRuntimeTests
{
    const string Head = "name: p\nparent: { pretrain: {} }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\n";

    [Fact]
    public void The_runtime_is_eager_unless_the_spec_names_cuda_graphs_in_either_spelling()
    {
        using var dir = new TempDir();
        Assert.Equal(TimingRuntime.Eager, SpecLoader.Parse(Head, "p.yaml", dir.Path).Scenario.Runtime);
        foreach (var spelling in new[] { "cuda_graphs", "cuda-graphs" })
        {
            var spec = SpecLoader.Parse(Head + $"scenario: {{ runtime: {spelling} }}\n", "p.yaml", dir.Path);
            Assert.Equal(TimingRuntime.CudaGraphs, spec.Scenario.Runtime);
            Assert.Equal(TimingRuntime.CudaGraphs, spec.Scenario.Timing().Runtime);
        }
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(Head + "scenario: { runtime: graphs }\n", "p.yaml", dir.Path));
        Assert.StartsWith("p.yaml:4:", e.Errors.Single().ToString());
        Assert.Contains("eager, cuda_graphs", e.Message);
    }

    [Fact]
    public void The_runtime_keys_the_jobs_that_time_and_what_follows_them_and_names_itself_in_the_cost_model()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var eager = repo.Load();
        var graphs = eager with { Device = DeviceKind.Cuda, Scenario = eager.Scenario with { Runtime = TimingRuntime.CudaGraphs } };
        var onCuda = DeviceTests.Keys(eager with { Device = DeviceKind.Cuda });
        var changed = DeviceTests.Keys(graphs).Where(j => j.Value != onCuda[j.Key]).Select(j => j.Key[..j.Key.IndexOf('/')]).Distinct().Order().ToArray();
        // the library and the trained models do not depend on how costs are timed; the search, its models' speeds, the
        // report and what ships do
        Assert.Equal(["Evaluate", "Export", "Heal", "Measure", "Pack", "Publish", "Report", "Search", "Speed", "Sweep"], changed);

        Assert.Contains("eager TorchSharp", MeasureStage.CostModel(eager with { Device = DeviceKind.Cuda }));
        Assert.Contains("replayed as one CUDA graph", MeasureStage.CostModel(graphs));
    }

    [Fact]
    public void Cuda_graphs_on_the_cpu_are_refused_naming_the_field_before_anything_is_timed()
    {
        Fixtures.Torch();
        Assert.Contains("need a CUDA device", CudaGraphs.Unavailable(ComputeDevice.Cpu));
        using var scope = NewDisposeScope();
        var config = ModelConfig.Llama(vocab: 50, hidden: 16, layers: 1, heads: 2, kvHeads: 1, intermediate: 32);
        using var model = new CausalLM(config);
        var e = Assert.Throws<InvalidOperationException>(() =>
            CostMeter.Model(model, new TimingScenario(Prompt: 4, Generate: 2, Warmup: 0, Repeats: 1, TimingRuntime.CudaGraphs), batch: 1));
        Assert.StartsWith("scenario.runtime: cuda_graphs cannot run here: CUDA graphs need a CUDA device", e.Message);
        // eager is what it was
        Assert.Equal(2, CostMeter.Steps(model, new TimingScenario(4, 2, 0, 1), 1, ComputeDevice.Cpu).Decode.Count);
    }

    [Fact]
    public void A_run_gives_its_timer_each_step_once_at_the_cache_position_the_step_writes()
    {
        Fixtures.Torch();
        // what a captured graph relies on: the work handed to the timer is the step at the right position, and
        // running it once (as a capture does) advances the KV cache by that step's tokens
        using var scope = NewDisposeScope();
        var config = ModelConfig.Llama(vocab: 50, hidden: 16, layers: 1, heads: 2, kvHeads: 1, intermediate: 32);
        var starts = new List<(long Start, long CacheLength, long Tokens)>();
        var calls = 0;
        var times = CostMeter.Run(new TimingScenario(Prompt: 4, Generate: 3, Warmup: 0, Repeats: 1), batch: 2, config, ComputeDevice.Cpu,
            (x, cache, start) =>
            {
                starts.Add((start, cache.Length, x.shape[1]));
                cache.Advance(x.shape[1]);
            },
            shape => zeros(shape, dtype: ScalarType.Int64),
            work =>
            {
                calls++;
                work();
                return calls * 1e-3;
            });
        Assert.Equal([(0L, 0L, 4L), (4L, 4L, 1L), (5L, 5L, 1L), (6L, 6L, 1L)], starts);
        Assert.Equal(4, calls);
        Assert.Equal(1e-3, times.Prefill);
        Assert.Equal([2e-3, 3e-3, 4e-3], times.Decode);
    }

    [Fact]
    public void A_run_of_some_decode_steps_times_them_at_their_cache_positions_and_reads_the_others_off_the_line_between()
    {
        Fixtures.Torch();
        using var scope = NewDisposeScope();
        var config = ModelConfig.Llama(vocab: 50, hidden: 16, layers: 1, heads: 2, kvHeads: 1, intermediate: 32);
        var starts = new List<(long Start, long CacheLength)>();
        var times = CostMeter.Run(new TimingScenario(Prompt: 4, Generate: 6, Warmup: 0, Repeats: 1), batch: 2, config, ComputeDevice.Cpu,
            (x, cache, start) =>
            {
                starts.Add((start, cache.Length));
                cache.Advance(x.shape[1]);
            },
            shape => zeros(shape, dtype: ScalarType.Int64),
            work =>
            {
                work();
                return starts[^1].Start * 1e-3; // a step's time grows with the cache's length
            },
            CostMeter.DecodeSteps(6, 4));
        // the prefill, then steps 0, 4 and 5 only, each at the position it writes
        Assert.Equal([(0L, 0L), (4L, 4L), (8L, 8L), (9L, 9L)], starts);
        Assert.Equal(0, times.Prefill);
        Assert.Equal([4e-3, 5e-3, 6e-3, 7e-3, 8e-3, 9e-3], times.Decode.Select(d => Math.Round(d, 12)));
    }

    [Fact]
    public void The_decode_steps_a_graph_timing_captures_are_every_stride_th_and_the_last()
    {
        Assert.Equal([0, 8, 16, 24, 31], CostMeter.DecodeSteps(32, 8));
        Assert.Equal([0, 8, 16, 24, 32], CostMeter.DecodeSteps(33, 8));
        Assert.Equal([0, 1], CostMeter.DecodeSteps(2, 8));
        Assert.Equal([0], CostMeter.DecodeSteps(1, 8));
        Assert.Empty(CostMeter.DecodeSteps(0, 8));
        Assert.Equal([0, 1, 2], CostMeter.DecodeSteps(3, 1));
        Assert.Equal(17, CostMeter.DecodeSteps(128, CostMeter.GraphDecodeStride).Count);
    }

    [Fact]
    public void A_run_refuses_decode_steps_that_do_not_rise_from_the_first_to_the_last()
    {
        Fixtures.Torch();
        var config = ModelConfig.Llama(vocab: 50, hidden: 16, layers: 1, heads: 2, kvHeads: 1, intermediate: 32);
        var scenario = new TimingScenario(Prompt: 4, Generate: 6, Warmup: 0, Repeats: 1);
        foreach (var steps in new[] { new[] { 1, 5 }, [0, 4], [0, 4, 4, 5] })
            Assert.Throws<ArgumentException>(() => CostMeter.Run(scenario, 1, config, ComputeDevice.Cpu, (x, cache, _) => cache.Advance(x.shape[1]),
                shape => zeros(shape, dtype: ScalarType.Int64), work => { work(); return 0; }, steps));
    }

    [Fact]
    public void A_graph_timing_warms_up_whole_only_for_an_attention_shape_not_yet_run_whole()
    {
        var scenario = new TimingScenario(Prompt: 512, Generate: 128, Warmup: 2, Repeats: 3, TimingRuntime.CudaGraphs);
        var parent = ModelConfig.Llama(vocab: 100, hidden: 64, layers: 4, heads: 8, kvHeads: 4, intermediate: 128);
        var kv2 = parent with { Blocks = [.. parent.Blocks.Take(3), new BlockConfig(AttentionConfig.Gqa(2), FfnConfig.NoOp)] };
        var head = CostMeter.HeadModel(parent);
        var none = new HashSet<AttentionConfig>();
        // a cache length the process has not decoded at with this attention: the whole scenario
        Assert.Equal(scenario, CostMeter.GraphWarmup(scenario, parent, none));
        var short2 = scenario with { Generate = 2 };
        Assert.Equal(short2, CostMeter.GraphWarmup(scenario, parent, new HashSet<AttentionConfig>(CostMeter.AttentionShapes(parent))));
        // a new KV-head count among known ones: whole again
        Assert.Equal(scenario, CostMeter.GraphWarmup(scenario, kv2, new HashSet<AttentionConfig>(CostMeter.AttentionShapes(parent))));
        Assert.Equal(short2, CostMeter.GraphWarmup(scenario, kv2, new HashSet<AttentionConfig> { AttentionConfig.Gqa(4), AttentionConfig.Gqa(2) }));
        // no attention whose kernels follow the cache's length: the prefill and two steps
        Assert.Equal(short2, CostMeter.GraphWarmup(scenario, head, none));
        Assert.Equal(scenario with { Generate = 1 }, CostMeter.GraphWarmup(scenario with { Generate = 1 }, head, none));
    }
}
