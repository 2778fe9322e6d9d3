using System.Diagnostics;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Cost;

/// <summary>
/// Measures latency on a device after warm-up, as the median of repeats: one block shape alone (cost depends on
/// shape, not layer), the non-block parts (embedding, final norm, LM head), or a whole model. Weights, activations and
/// the KV cache are in the device's compute dtype, which also sizes parameter and KV-cache bytes. On CUDA the clock is
/// read only after the device has finished the timed work (kernels launch asynchronously).
/// </summary>
public static class CostMeter
{
    /// <summary>One block of the given shape (a subblock alone when the other is a no-op).</summary>
    public static MeasuredCost Block(ModelConfig parent, BlockConfig shape, ScenarioSpec scenario, int batch, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        var one = parent with { Blocks = [shape] };
        using var block = device.Place(new DecoderBlock(one, shape));
        block.eval();
        // the model computes rotary angles once per forward for all its layers: not a cost of any one block
        var rotary = new RotaryEmbedding(parent.HeadDim, parent.RopeTheta, parent.RopeScaling);
        var (cos, sin) = rotary.At(0, scenario.Prompt + scenario.Generate, device.Device, device.DType);
        var (prefill, decode) = Time(scenario, batch, one, device,
            (x, cache, start) =>
            {
                block.Forward(x, cos.narrow(0, start, x.shape[1]), sin.narrow(0, start, x.shape[1]), cache, 0);
                cache.Advance(x.shape[1]);
            }, tokens => randn(tokens.shape[0], tokens.shape[1], parent.HiddenSize, dtype: device.DType, device: device.Device));
        var parameters = block.parameters().Sum(p => p.numel());
        var kv = shape.Attention.Kind == AttentionKind.Gqa ? 2L * shape.Attention.KvHeads * parent.HeadDim * device.ElementBytes : 0;
        return new MeasuredCost(prefill, decode, parameters, parameters * device.ElementBytes, kv);
    }

    /// <summary>Embedding, final norm and LM head: what every architecture pays besides its blocks.</summary>
    public static MeasuredCost Head(ModelConfig parent, ScenarioSpec scenario, int batch, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        using var model = device.Place(new CausalLM(parent with { Blocks = [new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp)] }));
        model.eval();
        var (prefill, decode) = Time(scenario, batch, model.Config, device, (ids, _, _) => model.Head(model.Embed(ids)), Tokens(parent, device));
        var parameters = model.parameters().Sum(p => p.numel());
        return new MeasuredCost(prefill, decode, parameters, parameters * device.ElementBytes, 0);
    }

    /// <summary>A whole model with its KV cache: the check on the additive cost model.</summary>
    /// <param name="model">the model, already on <paramref name="device"/> in its compute dtype</param>
    public static MeasuredCost Model(CausalLM model, ScenarioSpec scenario, int batch, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        model.eval();
        var (prefill, decode) = Time(scenario, batch, model.Config, device, (ids, cache, _) => model.Forward(ids, cache), Tokens(model.Config, device));
        var parameters = model.parameters().Sum(p => p.numel());
        var kv = model.Config.Blocks.Where(b => b.Attention.Kind == AttentionKind.Gqa)
            .Sum(b => 2L * b.Attention.KvHeads * model.Config.HeadDim * device.ElementBytes);
        return new MeasuredCost(prefill, decode, parameters, parameters * device.ElementBytes, kv);
    }

    static Func<Tensor, Tensor> Tokens(ModelConfig config, ComputeDevice device) =>
        shape => randint(0, config.VocabSize, shape.shape, dtype: int64, device: device.Device);

    /// <summary>Median prefill time and median decode time per token over the scenario's repeats, after warm-up.</summary>
    static (double Prefill, double Decode) Time(ScenarioSpec scenario, int batch, ModelConfig config, ComputeDevice device,
        Action<Tensor, KvCache, long> step, Func<Tensor, Tensor> input)
    {
        var prefills = new List<double>();
        var decodes = new List<double>();
        using var _ = no_grad();
        for (var r = 0; r < scenario.Warmup + scenario.Repeats; r++)
        {
            using var scope = NewDisposeScope();
            using var cache = new KvCache(config, batch, scenario.Prompt + scenario.Generate, device.Device, device.DType);
            var prompt = input(empty(batch, scenario.Prompt));
            var next = Enumerable.Range(0, scenario.Generate).Select(_ => input(empty(batch, 1))).ToList();
            device.Synchronize();
            var clock = Stopwatch.StartNew();
            step(prompt, cache, 0);
            device.Synchronize();
            var prefill = clock.Elapsed.TotalSeconds;
            clock.Restart();
            for (var t = 0; t < scenario.Generate; t++) step(next[t], cache, scenario.Prompt + t);
            device.Synchronize();
            var decode = clock.Elapsed.TotalSeconds / Math.Max(1, scenario.Generate);
            if (r < scenario.Warmup) continue;
            prefills.Add(prefill);
            decodes.Add(decode);
        }
        return (Median(prefills), Median(decodes));
    }

    static double Median(List<double> xs)
    {
        xs.Sort();
        return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[xs.Count / 2 - 1] + xs[xs.Count / 2]) / 2;
    }
}
