using System.Diagnostics;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Cost;

/// <summary>
/// Measures latency on this process's device after warm-up, as the median of repeats: one block shape alone (cost
/// depends on shape, not layer), the non-block parts (embedding, final norm, LM head), or a whole model.
/// </summary>
public static class CostMeter
{
    /// <summary>One block of the given shape (a subblock alone when the other is a no-op).</summary>
    public static MeasuredCost Block(ModelConfig parent, BlockConfig shape, ScenarioSpec scenario, int batch)
    {
        var one = parent with { Blocks = [shape] };
        using var block = new DecoderBlock(one, shape);
        block.eval();
        // the model computes rotary angles once per forward for all its layers: not a cost of any one block
        var rotary = new RotaryEmbedding(parent.HeadDim, parent.RopeTheta, parent.RopeScaling);
        var (cos, sin) = rotary.At(0, scenario.Prompt + scenario.Generate, CPU, float32);
        var (prefill, decode) = Time(scenario, batch, one,
            (x, cache, start) =>
            {
                block.Forward(x, cos.narrow(0, start, x.shape[1]), sin.narrow(0, start, x.shape[1]), cache, 0);
                cache.Advance(x.shape[1]);
            }, tokens => randn(tokens.shape[0], tokens.shape[1], parent.HiddenSize));
        var parameters = block.parameters().Sum(p => p.numel());
        var kv = shape.Attention.Kind == AttentionKind.Gqa ? 2L * shape.Attention.KvHeads * parent.HeadDim * sizeof(float) : 0;
        return new MeasuredCost(prefill, decode, parameters, parameters * sizeof(float), kv);
    }

    /// <summary>Embedding, final norm and LM head: what every architecture pays besides its blocks.</summary>
    public static MeasuredCost Head(ModelConfig parent, ScenarioSpec scenario, int batch)
    {
        using var model = new CausalLM(parent with { Blocks = [new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp)] });
        model.eval();
        var (prefill, decode) = Time(scenario, batch, model.Config, (ids, _, _) => model.Head(model.Embed(ids)), Tokens(parent));
        var parameters = model.parameters().Sum(p => p.numel());
        return new MeasuredCost(prefill, decode, parameters, parameters * sizeof(float), 0);
    }

    /// <summary>A whole model with its KV cache: the check on the additive cost model.</summary>
    public static MeasuredCost Model(CausalLM model, ScenarioSpec scenario, int batch)
    {
        model.eval();
        var (prefill, decode) = Time(scenario, batch, model.Config, (ids, cache, _) => model.Forward(ids, cache), Tokens(model.Config));
        var parameters = model.parameters().Sum(p => p.numel());
        var kv = model.Config.Blocks.Where(b => b.Attention.Kind == AttentionKind.Gqa)
            .Sum(b => 2L * b.Attention.KvHeads * model.Config.HeadDim * sizeof(float));
        return new MeasuredCost(prefill, decode, parameters, parameters * sizeof(float), kv);
    }

    static Func<Tensor, Tensor> Tokens(ModelConfig config) => shape => randint(0, config.VocabSize, shape.shape, dtype: int64);

    /// <summary>Median prefill time and median decode time per token over the scenario's repeats, after warm-up.</summary>
    static (double Prefill, double Decode) Time(ScenarioSpec scenario, int batch, ModelConfig config,
        Action<Tensor, KvCache, long> step, Func<Tensor, Tensor> input)
    {
        var prefills = new List<double>();
        var decodes = new List<double>();
        using var _ = no_grad();
        for (var r = 0; r < scenario.Warmup + scenario.Repeats; r++)
        {
            using var scope = NewDisposeScope();
            using var cache = new KvCache(config, batch, scenario.Prompt + scenario.Generate);
            var prompt = input(empty(batch, scenario.Prompt));
            var next = Enumerable.Range(0, scenario.Generate).Select(_ => input(empty(batch, 1))).ToList();
            var clock = Stopwatch.StartNew();
            step(prompt, cache, 0);
            var prefill = clock.Elapsed.TotalSeconds;
            clock.Restart();
            for (var t = 0; t < scenario.Generate; t++) step(next[t], cache, scenario.Prompt + t);
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
