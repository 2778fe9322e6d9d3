using System.Diagnostics;
using System.Globalization;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Cost;

/// <summary>
/// Measures latency on a device after warm-up, as the fastest of repeats: one block shape (cost depends on shape, not
/// layer), the non-block parts (embedding, final norm, LM head), or a whole model. The fastest run is the one that
/// other work on the machine disturbed least: on a shared 2-core machine two medians of the same model were 14%
/// apart and two minima 4% (benchmarks/results/costs.json). Decode is timed step by step and each step keeps its
/// fastest run (<see cref="StepTimes"/>), so a disturbance that spoils part of every run spoils none of the result.
/// Weights, activations and
/// the KV cache are in the device's compute dtype, which also sizes parameter and KV-cache bytes. On CUDA the clock is
/// read only after the device has finished the timed work (kernels launch asynchronously).
/// </summary>
public static class CostMeter
{
    /// <summary>
    /// One block of the given shape (a subblock alone when the other is a no-op), timed inside a model of
    /// <paramref name="depth"/> such blocks, less that model's head, per block: its weights are fetched from memory
    /// and its per-layer work is paid as in a whole model, where one block timed alone keeps its weights in cache.
    /// Summed over a model's blocks plus the head, this predicted the default parent and six random architectures
    /// within 6% (timed alone: 8%).
    /// </summary>
    public static MeasuredCost BlockInDepth(ModelConfig parent, BlockConfig shape, TimingScenario scenario, int batch, int depth, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        var head = Head(parent, scenario, batch, device);
        using var model = new CausalLM(ShapeModel(parent, shape, depth), device.Device, device.DType);
        return PerBlock(Model(model, scenario, batch, device), head, parent, shape, depth, device);
    }

    /// <summary>The model a block shape is timed in: <paramref name="depth"/> blocks of that shape and the parent's head.</summary>
    public static ModelConfig ShapeModel(ModelConfig parent, BlockConfig shape, int depth) =>
        parent with { Blocks = Enumerable.Repeat(shape, depth).ToList() };

    /// <summary>The model the non-block parts are timed in: the parent's embedding, final norm and LM head around one
    /// block that does nothing (what every architecture pays besides its blocks, the KV cache's bookkeeping included).</summary>
    public static ModelConfig HeadModel(ModelConfig parent) => parent with { Blocks = [new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp)] };

    /// <summary>One block's cost from its shape model's (<see cref="ShapeModel"/>) and the head model's whole timings.</summary>
    public static MeasuredCost PerBlock(MeasuredCost shapeModel, MeasuredCost head, ModelConfig parent, BlockConfig shape, int depth, ComputeDevice device)
    {
        var kv = shape.Attention.Kind == AttentionKind.Gqa ? 2L * shape.Attention.KvHeads * parent.HeadDim * device.ElementBytes : 0;
        var parameters = (shapeModel.Parameters - head.Parameters) / depth;
        return new MeasuredCost(Math.Max(0, (shapeModel.PrefillSeconds - head.PrefillSeconds) / depth),
            Math.Max(0, (shapeModel.DecodeSecondsPerToken - head.DecodeSecondsPerToken) / depth), parameters, parameters * device.ElementBytes, kv);
    }

    /// <summary>One block of the given shape alone (a subblock alone when the other is a no-op).</summary>
    public static MeasuredCost Block(ModelConfig parent, BlockConfig shape, TimingScenario scenario, int batch, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        var one = parent with { Blocks = [shape] };
        using var block = device.Place(new DecoderBlock(one, shape));
        block.eval();
        // the model computes rotary angles once per forward for all its layers: not a cost of any one block
        var rotary = new RotaryEmbedding(parent);
        var (cos, sin) = rotary.At(0, scenario.Prompt + scenario.Generate, device.Device, device.DType);
        using var generator = new Generator(InputSeed);
        var times = Time(scenario, batch, one, device,
            (x, cache, start) =>
            {
                block.Forward(x, cos.narrow(0, start, x.shape[1]), sin.narrow(0, start, x.shape[1]), cache, 0);
                cache.Advance(x.shape[1]);
            }, HiddenInputs(parent.HiddenSize, device, generator));
        var parameters = block.parameters().Sum(p => p.numel());
        var kv = shape.Attention.Kind == AttentionKind.Gqa ? 2L * shape.Attention.KvHeads * parent.HeadDim * device.ElementBytes : 0;
        return new MeasuredCost(times.Prefill, times.DecodePerToken, parameters, parameters * device.ElementBytes, kv);
    }

    /// <summary>Embedding, final norm and LM head: what every architecture pays besides its blocks (<see cref="HeadModel"/>).</summary>
    public static MeasuredCost Head(ModelConfig parent, TimingScenario scenario, int batch, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        using var model = new CausalLM(HeadModel(parent), device.Device, device.DType);
        return Model(model, scenario, batch, device);
    }

    /// <summary>A whole model with its KV cache: the check on the additive cost model.</summary>
    /// <param name="model">the model, already on <paramref name="device"/> in its compute dtype</param>
    public static MeasuredCost Model(CausalLM model, TimingScenario scenario, int batch, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        return Cost(model, Steps(model, scenario, batch, device), device);
    }

    /// <summary>A whole model's timings: the fastest prefill and each decode step's fastest run. Each step computes the
    /// logits of each sequence's last position only, as a serving runtime does (vLLM samples from those alone): a prefill
    /// that ran the LM head over every prompt position timed work no request pays for (at the 1B shape on the H200,
    /// 2.8 ms of the parent's 22.3 ms prefill, and 1 GB of logits held in every prefill graph).</summary>
    public static StepTimes Steps(CausalLM model, TimingScenario scenario, int batch, ComputeDevice device)
    {
        model.eval();
        using var generator = new Generator(InputSeed);
        return Time(scenario, batch, model.Config, device, (ids, cache, _) => TimedStep(model, ids, cache),
            TokenInputs(model.Config.VocabSize, device, generator));
    }

    /// <summary>What one timed step of a whole model computes: the last position's logits of each sequence [B, vocab],
    /// extending the cache (<see cref="Steps"/>).</summary>
    internal static Tensor TimedStep(CausalLM model, Tensor ids, KvCache cache) => model.ForwardLast(ids, cache);

    /// <summary>A whole model's cost from its timings, with its parameters and KV-cache bytes per token.</summary>
    static MeasuredCost Cost(CausalLM model, StepTimes times, ComputeDevice device)
    {
        var parameters = model.parameters().Sum(p => p.numel());
        var kv = model.Config.Blocks.Where(b => b.Attention.Kind == AttentionKind.Gqa)
            .Sum(b => 2L * b.Attention.KvHeads * model.Config.HeadDim * device.ElementBytes);
        return new MeasuredCost(times.Prefill, times.DecodePerToken, parameters, parameters * device.ElementBytes, kv);
    }

    /// <summary>
    /// How many copies of each model <see cref="InRounds"/> keeps and times in turn, each step keeping its fastest over
    /// all copies. A model's tensors land at other addresses in every copy, and on a shared 2-core CPU where they land
    /// moves its speed: with one copy a process now and then timed an architecture 15-20% off the others' speedup for
    /// it. In three runs of six processes per way, alternating (benchmarks/results/timing-copies.json), a prediction
    /// from one process was beyond ±10% of a measurement from another in 38%, 8% and 13% of pairs with one copy, and in
    /// 36%, 3% and 3% with two (moby-2x's parent: 30% against 3.3%); three copies did no better (5%) and took 2 s more
    /// per process. Further copies need no
    /// warm-up of their own: the first warmed up the kernels, and each copy's runs are among the timed passes.
    /// </summary>
    public const int Copies = 2;

    /// <summary>
    /// Each model's fastest prefill and each decode step's fastest run, timed so that drift in the machine's load touches every model alike.
    /// When all the models' weights fit in <paramref name="keepBytes"/> (default: a quarter of the memory this process
    /// may use, on the CPU; never on CUDA, where one model of a real parent may fill the device) every model is built
    /// once and warmed up once, then timed one scenario at a time in turn, forward and backward, as many runs as the
    /// rounds below would have made: on a shared 2-core machine single runs of one model varied by ±20% within seconds,
    /// and with the same two models the ratio of their fastest runs came out 1.51 and 1.48 in two processes, where timing
    /// in rounds of fresh models gave 1.51-1.73. Otherwise <paramref name="rounds"/> rounds, the scenario's repeats spread
    /// over them: every model once per round, one on the device at a time (built with random weights right before its
    /// timing), forward in even rounds and backward in odd ones. <paramref name="timed"/> is told (done, total) after
    /// each timed run or round, and (0, total) before the first. Kept models are built <paramref name="copies"/> times as far as the copies fit too, and the
    /// timed passes go through the copies in turn (<see cref="Copies"/>).
    /// </summary>
    public static IReadOnlyList<MeasuredCost> InRounds(IReadOnlyList<ModelConfig> models, TimingScenario scenario, int batch, int rounds,
        ComputeDevice device, Action<int, int>? timed = null, long? keepBytes = null, int copies = Copies)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(copies, 1);
        var perRound = (scenario.Repeats + rounds - 1) / rounds;
        var best = new StepTimes?[models.Count];
        var sizes = new MeasuredCost?[models.Count]; // parameters and KV-cache bytes, from the model the first time it is timed
        void Keep(int i, CausalLM model, StepTimes times)
        {
            best[i] = best[i] is { } before ? before.Faster(times) : times;
            sizes[i] ??= Cost(model, times, device);
        }
        IReadOnlyList<MeasuredCost> Fastest() => [.. sizes.Select((c, i) => c! with { PrefillSeconds = best[i]!.Prefill, DecodeSecondsPerToken = best[i]!.DecodePerToken })];
        int Order(int pass, int k) => pass % 2 == 0 ? k : models.Count - 1 - k;
        var budget = keepBytes ?? (device.Kind == DeviceKind.Cpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4 : 0);
        copies = CopiesThatFit(models.Sum(m => Parameters(m) * device.ElementBytes), budget, copies);
        if (copies > 0)
        {
            // the warm-ups later rounds would have run are timed runs here
            var passes = rounds * (scenario.Warmup + perRound) - scenario.Warmup;
            var kept = new List<CausalLM[]>();
            timed?.Invoke(0, passes * models.Count); // a progress line's clock starts with the building and warm-ups
            try
            {
                foreach (var config in models) kept.Add([.. Enumerable.Range(0, copies).Select(_ => new CausalLM(config, device.Device, device.DType))]);
                // warm-up, and one run more; further copies run the kernels the first one warmed up
                for (var i = 0; i < models.Count; i++) Keep(i, kept[i][0], Steps(kept[i][0], scenario with { Repeats = 1 }, batch, device));
                var one = scenario with { Warmup = 0, Repeats = 1 };
                for (var pass = 0; pass < passes; pass++)
                    for (var k = 0; k < models.Count; k++)
                    {
                        var i = Order(pass, k);
                        var model = kept[i][pass % copies];
                        Keep(i, model, Steps(model, one, batch, device));
                        timed?.Invoke(pass * models.Count + k + 1, passes * models.Count);
                    }
            }
            finally
            {
                foreach (var model in kept.SelectMany(c => c)) model.Dispose();
            }
            return Fastest();
        }
        var timing = scenario with { Repeats = perRound };
        timed?.Invoke(0, rounds * models.Count);
        for (var r = 0; r < rounds; r++)
            for (var k = 0; k < models.Count; k++)
            {
                var i = Order(r, k);
                using (var model = new CausalLM(models[i], device.Device, device.DType))
                    Keep(i, model, Steps(model, timing, batch, device));
                timed?.Invoke(r * models.Count + k + 1, rounds * models.Count);
            }
        return Fastest();
    }

    /// <summary><see cref="InRounds"/> with a progress line of the timed runs in <paramref name="log"/> (Measure, the
    /// closed loop and Speed).</summary>
    public static IReadOnlyList<MeasuredCost> InRoundsLogged(IReadOnlyList<ModelConfig> models, TimingScenario scenario, int batch, int rounds,
        ComputeDevice device, TextWriter log)
    {
        Training.ProgressLine? progress = null;
        var costs = InRounds(models, scenario, batch, rounds, device, (done, total) =>
            (progress ??= new Training.ProgressLine("time", total, log, unit: "run")).Report(done, double.NaN));
        progress?.Done(progress.Total, double.NaN);
        return costs;
    }

    /// <summary>How many copies of models of <paramref name="bytes"/> in all fit in <paramref name="budget"/>, at most
    /// <paramref name="copies"/>: 0 when not even one does.</summary>
    public static int CopiesThatFit(long bytes, long budget, int copies) => budget < bytes ? 0 : (int)Math.Min(copies, budget / Math.Max(1, bytes));

    /// <summary>A model's parameters, from its configuration: its blocks' (<see cref="Roofline.BlockParameters"/>), the
    /// embedding, the final norm and, unless tied, the LM head.</summary>
    public static long Parameters(ModelConfig config) => config.Blocks.Sum(b => Roofline.BlockParameters(config, b)) +
        EmbeddingParameters(config) + config.HiddenSize;

    /// <summary>The embedding's and, unless tied, the LM head's parameters.</summary>
    public static long EmbeddingParameters(ModelConfig config) => (long)config.VocabSize * config.HiddenSize * (config.TieWordEmbeddings ? 1 : 2);

    /// <summary>A parameter count as people read it: 6.5M, 1.24B.</summary>
    public static string Readable(long parameters) => parameters >= 1e9
        ? (parameters / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + "B"
        : (parameters / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M";

    /// <summary>
    /// The inputs a measurement times come from a generator of its own, never from torch's global one, which every job
    /// of an in-process run shares: a measurement neither depends on nor disturbs another job's draws. (The timed
    /// modules' weights do come from the global generator, since TorchSharp's layers take none; their values, like the
    /// inputs', do not change a timing.)
    /// </summary>
    const ulong InputSeed = 0;

    /// <summary>Token ids of a given [batch, tokens] shape, drawn on the CPU (a generator is a CPU one) and moved.</summary>
    internal static Func<long[], Tensor> TokenInputs(long vocab, ComputeDevice device, Generator generator) =>
        shape => randint(0, vocab, shape, dtype: int64, generator: generator).to(device.Device);

    /// <summary>Hidden states of a given [batch, tokens] shape, for a block timed alone.</summary>
    internal static Func<long[], Tensor> HiddenInputs(long hidden, ComputeDevice device, Generator generator) =>
        shape => randn([.. shape, hidden], generator: generator).to(device.DType, device.Device);

    /// <summary>The fastest prefill and each decode step's fastest time over the scenario's repeats, after warm-up.
    /// On CUDA the clock is read after each step has finished, as a generation loop waits for every token. With
    /// <see cref="TimingRuntime.CudaGraphs"/>, after the warm-up (at least one run, eager, on the capture stream: libtorch
    /// sets up cuBLAS workspaces and loads kernels outside a capture; <see cref="GraphWarmup"/>), one run captures the
    /// prefill and every eighth decode step and the last (<see cref="GraphDecodeStride"/>) as a graph each and replays it
    /// once untimed and then <c>Repeats</c> times, keeping each step's fastest replay; the steps between are
    /// interpolated.</summary>
    static StepTimes Time(TimingScenario scenario, int batch, ModelConfig config, ComputeDevice device,
        Action<Tensor, KvCache, long> step, Func<long[], Tensor> input)
    {
        using var _ = no_grad();
        if (scenario.Runtime == TimingRuntime.CudaGraphs)
        {
            CudaGraphs.Require(device, "scenario.runtime");
            using var side = CudaGraphs.OnSideStream();
            var warmup = GraphWarmup(scenario, config, WarmedWhole);
            // the warm-up runs the steps the capture will, at the same cache lengths
            for (var w = 0; w < Math.Max(1, scenario.Warmup); w++)
                Run(warmup, batch, config, device, step, input, Eager(device), DecodeSteps(warmup.Generate, GraphDecodeStride));
            var steps = DecodeSteps(scenario.Generate, GraphDecodeStride);
            StepTimes times;
            try { times = Run(scenario, batch, config, device, step, input, Replayed(device, scenario.Repeats), steps); }
            catch (Exception e) when (warmup != scenario && e is InvalidOperationException or System.Runtime.InteropServices.ExternalException)
            {
                // a step past the short warm-up needed what its capture could not set up (drivers before CUDA 12.3 load no
                // kernel while capturing): warm up with the whole scenario and capture again
                Run(scenario, batch, config, device, step, input, Eager(device), steps);
                times = Run(scenario, batch, config, device, step, input, Replayed(device, scenario.Repeats), steps);
            }
            WarmedWhole.UnionWith(AttentionShapes(config));
            return times;
        }
        StepTimes? best = null;
        for (var r = 0; r < scenario.Warmup + scenario.Repeats; r++)
        {
            var run = Run(scenario, batch, config, device, step, input, Eager(device));
            if (r >= scenario.Warmup) best = best is null ? run : best.Faster(run);
        }
        return best!;
    }

    /// <summary>The attention shapes of <see cref="TimingRuntime.CudaGraphs"/> timings in this process so far, each
    /// warmed up and captured over a whole scenario (<see cref="GraphWarmup"/>).</summary>
    static readonly HashSet<AttentionConfig> WarmedWhole = [];

    /// <summary>The attention shapes whose decode kernels may change with the KV cache's length (GQA: flash attention
    /// splits a long cache differently from a short one); every other kernel of a decode step is the same at every step.</summary>
    internal static IEnumerable<AttentionConfig> AttentionShapes(ModelConfig config) =>
        config.Blocks.Select(b => b.Attention).Where(a => a.Kind == AttentionKind.Gqa).Distinct();

    /// <summary>
    /// What a warm-up run before a CUDA-graph timing runs: the whole scenario while the model has an attention shape no
    /// earlier timing in this process ran whole (its later decode steps may use kernels the first ones do not), else
    /// the prefill and the first two decode steps, which set up every kernel and cuBLAS workspace the remaining steps
    /// use. An eager run on a GPU pays a launch per kernel (about a second for the 1B shape's scenario, 2026-11-29),
    /// and a timing's warm-up ran it whole every time, round and model alike, for nothing the replays time.
    /// </summary>
    internal static TimingScenario GraphWarmup(TimingScenario scenario, ModelConfig config, IReadOnlySet<AttentionConfig> warmedWhole) =>
        AttentionShapes(config).All(warmedWhole.Contains) ? scenario with { Generate = Math.Min(2, scenario.Generate) } : scenario;

    /// <summary>
    /// The decode steps a <see cref="TimingRuntime.CudaGraphs"/> timing captures: every eighth, and the last. Capturing a
    /// step costs what launching it eagerly does (libtorch dispatches every kernel to be recorded), several times its
    /// replays: on an H200 (2026-12-04) the 1B shape's Measure took 96 s and Speed 116 s (4.8 s per model and round,
    /// where the scenario replays in 0.33 s), each capturing the prefill and all 128 decode steps. A decode step's time
    /// follows the KV cache's length smoothly (the attention reads it; every other kernel is the same at every step), so
    /// the steps between two captured ones are read off the straight line through them.
    /// </summary>
    internal const int GraphDecodeStride = 8;

    /// <summary>The decode steps of <paramref name="generate"/> that are run and timed: 0, <paramref name="stride"/>,
    /// 2·<paramref name="stride"/>, … and the last (all of them for a stride of 1).</summary>
    internal static IReadOnlyList<int> DecodeSteps(int generate, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        var steps = new List<int>();
        for (var t = 0; t < generate; t += stride) steps.Add(t);
        if (generate > 0 && steps[^1] != generate - 1) steps.Add(generate - 1);
        return steps;
    }

    /// <summary>One run of the scenario on a new KV cache: the prefill, then each decode step (those of
    /// <paramref name="decodeSteps"/>, default all), every step run timed by <paramref name="timed"/> (which runs the work
    /// it is given and returns its seconds). A step not in <paramref name="decodeSteps"/> is not run: the cache moves on
    /// by its token (what a step leaves in the cache does not change how long the next takes) and its time is
    /// interpolated between the nearest timed steps before and after it.</summary>
    internal static StepTimes Run(TimingScenario scenario, int batch, ModelConfig config, ComputeDevice device,
        Action<Tensor, KvCache, long> step, Func<long[], Tensor> input, Func<Action, double> timed, IReadOnlyList<int>? decodeSteps = null)
    {
        using var scope = NewDisposeScope();
        using var cache = new KvCache(config, batch, scenario.Prompt + scenario.Generate, device.Device, device.DType);
        var steps = decodeSteps ?? DecodeSteps(scenario.Generate, 1);
        if (scenario.Generate > 0 && (steps.Count == 0 || steps[0] != 0 || steps[^1] != scenario.Generate - 1 || steps.Zip(steps.Skip(1)).Any(p => p.First >= p.Second)))
            throw new ArgumentException($"decode steps must rise from 0 to {scenario.Generate - 1}: {string.Join(", ", steps)}", nameof(decodeSteps));
        var prompt = input([batch, scenario.Prompt]);
        var next = steps.ToDictionary(t => t, _ => input([batch, 1]));
        device.Synchronize();
        var prefill = timed(() => step(prompt, cache, 0));
        var decode = new double[scenario.Generate];
        var previous = -1;
        foreach (var t in steps)
        {
            cache.Advance(scenario.Prompt + t - cache.Length); // past the steps not run
            decode[t] = timed(() => step(next[t], cache, scenario.Prompt + t));
            for (var u = previous + 1; u < t; u++)
                decode[u] = decode[previous] + (decode[t] - decode[previous]) * (u - previous) / (t - previous);
            previous = t;
        }
        return new StepTimes(prefill, decode);
    }

    /// <summary>Runs a step as it is launched and waits for the device to finish it.</summary>
    static Func<Action, double> Eager(ComputeDevice device) => work =>
    {
        var clock = Stopwatch.StartNew();
        work();
        device.Synchronize();
        return clock.Elapsed.TotalSeconds;
    };

    /// <summary>Captures a step as a CUDA graph (which advances the KV cache's position once, as the step would), and
    /// returns the fastest of <paramref name="repeats"/> replays after one untimed one (the first launch uploads the
    /// graph). What the step allocated is freed after the capture and written again by every replay: nothing else
    /// allocates until the graph is gone.</summary>
    static Func<Action, double> Replayed(ComputeDevice device, int repeats) => work =>
    {
        using var graph = CudaGraphs.Capture(() =>
        {
            using var scope = NewDisposeScope();
            work();
        });
        graph.Replay();
        device.Synchronize();
        var best = double.MaxValue;
        for (var r = 0; r < repeats; r++)
        {
            var clock = Stopwatch.StartNew();
            graph.Replay();
            device.Synchronize();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    };
}
