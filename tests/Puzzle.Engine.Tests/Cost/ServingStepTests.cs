using Puzzle.Engine.Cost;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Cost;

/// <summary>A timed step computes what a serving runtime computes: each sequence's last logits, the prefill too, so
/// that costs and measured speeds carry no LM head over every prompt position (the head's cost is the same in every
/// architecture, so timing it per position made every speedup look smaller than a serving runtime's).</summary>
public class ServingStepTests
{
    [Fact]
    public void A_timed_prefill_computes_the_last_positions_logits_only_and_extends_the_cache()
    {
        Fixtures.Torch();
        var config = ModelConfig.Llama(vocab: 97, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64);
        using var model = new CausalLM(config);
        model.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var ids = randint(0, 97, [3, 7], dtype: int64);
        using var cache = new KvCache(config, 3, 8);

        var logits = CostMeter.TimedStep(model, ids, cache);

        Assert.Equal([3L, 97L], logits.shape);
        Assert.Equal(7, cache.Length);
        Assert.True(logits.allclose(model.Forward(ids)[.., -1], rtol: 1e-5, atol: 1e-6));
    }

    /// <summary>On the roofline the head costs a prefill what it costs a decode step: one row per sequence, however long
    /// the prompt.</summary>
    [Fact]
    public void The_rooflines_head_costs_a_prefill_one_row_per_sequence()
    {
        var parent = ModelConfig.Llama(vocab: 128_256, hidden: 2048, layers: 16, heads: 32, kvHeads: 8, intermediate: 8192, tie: true);
        var hw = Hardware.Known["h200"];
        var head = Roofline.HeadCost(parent, 8, hw);
        Assert.Equal(head.DecodeSecondsPerToken, head.PrefillSeconds);
        // the head's matrix read once for 8 rows of logits: 0.11 ms, where 8 x 512 rows took 2.2 ms of FLOPs
        Assert.Equal(128_256.0 * 2048 * 2 / hw.BytesPerSecond, head.PrefillSeconds, 1e-6);
    }
}
