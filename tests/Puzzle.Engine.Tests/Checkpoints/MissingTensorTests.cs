using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Runtime;
using TorchSharp;
using Xunit;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Checkpoints;

/// <summary>A missing weight's error says why where the folder shows it: the weights under another prefix, an untied
/// head, shards beside a model.safetensors.</summary>
public sealed class MissingTensorTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly Dictionary<string, torch.Tensor> _weights;

    public MissingTensorTests()
    {
        TorchRuntime.EnsureLoaded();
        _weights = RandomWeights(Homogeneous());
    }

    public void Dispose()
    {
        DisposeAll(_weights.Values);
        _dir.Dispose();
    }

    [Theory]
    [InlineData("")] // saved from the base model (LlamaModel's names), its head beside
    [InlineData("model.model.")] // wrapped once more
    [InlineData("base_model.model.model.")] // a PEFT wrapper's names
    public void WeightsUnderAnotherPrefixAreNamed(string prefix)
    {
        var dir = _dir["m"];
        HfConfig.Write(Homogeneous(), dir);
        SafeTensorsWriter.Write(Path.Combine(dir, CheckpointTensors.SingleFileName),
            _weights.ToDictionary(p => p.Key.StartsWith("model.", StringComparison.Ordinal) ? prefix + p.Key["model.".Length..] : p.Key, p => p.Value));
        AssertFails(() => Checkpoint.Open(dir), "tensor 'model.embed_tokens.weight' [40, 32] is missing",
            $"the weights hold '{prefix}embed_tokens.weight', the same weight under another prefix: LlamaForCausalLM names it 'model.embed_tokens.weight'");
    }

    [Fact]
    public void AMissingUntiedHeadNamesTieWordEmbeddings()
    {
        var dir = _dir["m"];
        Checkpoint.Save(dir, Homogeneous(), _weights);
        EditHeader(Path.Combine(dir, CheckpointTensors.SingleFileName), h => h.Remove("lm_head.weight"));
        EditJson(Path.Combine(dir, HfConfig.FileName), c => c.Remove("tie_word_embeddings"));
        AssertFails(() => Checkpoint.Open(dir), "tensor 'lm_head.weight' [40, 32] is missing",
            "tie_word_embeddings is false or absent, so the head is a weight of its own");
    }

    [Fact]
    public void ShardsBesideASingleFileAreNamedWhenItLacksATensor()
    {
        var dir = _dir["m"];
        Checkpoint.Save(dir, Homogeneous(), _weights, maxShardBytes: 6_000);
        // a complete model.safetensors is read and the shards are not, as transformers does
        var single = Path.Combine(dir, CheckpointTensors.SingleFileName);
        SafeTensorsWriter.Write(single, _weights);
        var (_, tensors) = Checkpoint.Open(dir);
        using (tensors) Assert.Equal([single], tensors.Files.Select(f => f.Path));

        SafeTensorsWriter.Write(single, _weights.Where(p => p.Key != "model.norm.weight").ToDictionary());
        AssertFails(() => Checkpoint.Open(dir), "tensor 'model.norm.weight' [32] is missing",
            "model.safetensors is read, as transformers reads it where both are, and the shards model.safetensors.index.json lists are not");
    }
}
