using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Model;

/// <summary>The homogeneous model is exactly Llama: checked against numbers transformers produced on its own checkpoint,
/// read from its safetensors shards and from the same tensors in a torch.save pytorch_model.bin.</summary>
public class LlamaReferenceTests
{
    static CausalLM LoadFixture(string format)
    {
        Fixtures.Torch();
        using var bin = new TempDir();
        var folder = Fixtures.HfLlamaTiny;
        if (format == "bin")
        {
            folder = bin["model"];
            Tests.Cli.TestParents.Tiny(folder);
            Tests.Checkpoints.TorchBinFixtures.ToPytorchBin(folder);
        }
        var (config, tensors) = Checkpoint.Open(folder);
        using (tensors)
        {
            var model = new CausalLM(config);
            model.LoadWeights(tensors.Read);
            model.eval();
            return model;
        }
    }

    [Theory]
    [InlineData("short", "bos", "safetensors")]
    [InlineData("short", "nobos", "safetensors")]
    [InlineData("long", "bos", "safetensors")]
    [InlineData("long", "nobos", "safetensors")]
    [InlineData("short", "bos", "bin")]
    [InlineData("long", "nobos", "bin")]
    public void Loss_logits_and_argmax_match_transformers(string text, string bos, string format)
    {
        using var model = LoadFixture(format);
        var reference = Fixtures.Reference.GetProperty("texts").GetProperty(text).GetProperty(bos);
        using var _ = no_grad();
        // every temporary of the forward pass held by a scope, as the pipeline's callers hold them: one that nothing
        // holds can be finalized by a collection on another test's thread while a native call still reads it
        using var scope = NewDisposeScope();
        var ids = tensor(Fixtures.Ids(reference, "ids")).unsqueeze(0);

        var loss = model.Loss(ids).item<float>();
        Assert.Equal(reference.GetProperty("loss").GetDouble(), loss, 1e-4);

        var logits = model.Forward(ids);
        Assert.Equal(Fixtures.Ids(reference, "argmax"), logits[0].argmax(-1).data<long>().ToArray());
        var first8 = reference.GetProperty("logits_pos0_first8").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var last8 = reference.GetProperty("logits_last_first8").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(first8[i], logits[0, 0, i].item<float>(), 1e-4);
            Assert.Equal(last8[i], logits[0, -1, i].item<float>(), 1e-4);
        }
    }

    [Theory]
    [InlineData("safetensors")]
    [InlineData("bin")]
    public void Greedy_continuation_with_kv_cache_matches_transformers(string format)
    {
        using var model = LoadFixture(format);
        var reference = Fixtures.Reference;
        var prompt = Fixtures.Ids(reference.GetProperty("texts").GetProperty("short").GetProperty("bos"), "ids");
        var generated = model.GenerateGreedy(prompt, 16);
        Assert.Equal(Fixtures.Ids(reference, "greedy16_short_bos"), generated);
    }

    [Fact]
    public void Cached_decoding_equals_a_full_pass_for_a_heterogeneous_model()
    {
        Fixtures.Torch();
        var baseConfig = ModelConfig.Llama(vocab: 97, hidden: 32, layers: 5, heads: 4, kvHeads: 2, intermediate: 48);
        var config = baseConfig with
        {
            Blocks =
            [
                new(AttentionConfig.Gqa(4), FfnConfig.SwiGlu(48)),
                new(AttentionConfig.Gqa(1), FfnConfig.Linear),
                new(AttentionConfig.Linear, FfnConfig.SwiGlu(16)),
                new(AttentionConfig.NoOp, FfnConfig.NoOp),
                new(AttentionConfig.Gqa(2), FfnConfig.NoOp),
            ],
        };
        using var model = CausalLM.Initialise(config, seed: 3);
        using var _ = no_grad();
        using var ids = randint(0, 97, [2, 12], dtype: int64, generator: new Generator(77));
        using var full = model.Forward(ids);
        using var cache = new KvCache(config, 2, 12);
        var pieces = new List<Tensor> { model.Forward(ids[.., ..5], cache), model.Forward(ids[.., 5..9], cache) };
        for (var t = 9; t < 12; t++) pieces.Add(model.Forward(ids[.., t..(t + 1)], cache));
        using var incremental = cat(pieces, 1);
        Assert.True(full.allclose(incremental, rtol: 1e-4, atol: 1e-5));
        // the cache holds K and V only for the three GQA layers, sized by their own KV heads (4 + 1 + 2)
        Assert.Equal(2L * 2 * (4 + 1 + 2) * 12 * 8 * sizeof(float), cache.Bytes);
    }
}
