using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using TorchSharp;
using Xunit;

namespace Puzzle.Engine.Tests.Checkpoints;

internal static class CheckpointTestSupport
{
    public static string FixtureDir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf-llama-tiny");

    /// <summary>hidden 64, 4 heads of 16: every block kind, mixed KV heads and widths (256 has an exact ffn_mult, the others none).</summary>
    public static ModelConfig Heterogeneous(bool tie = false) => new()
    {
        VocabSize = 50, HiddenSize = 64, NumAttentionHeads = 4, HeadDim = 16, TieWordEmbeddings = tie,
        RopeTheta = 500000, RopeScaling = new RopeScaling("llama3", 8, 1, 4, 64), MaxPositionEmbeddings = 512,
        RmsNormEps = 1e-5, BosTokenId = 1, EosTokenId = 2,
        Blocks =
        [
            new(AttentionConfig.Gqa(4), FfnConfig.SwiGlu(256)),
            new(AttentionConfig.Gqa(1), FfnConfig.SwiGlu(100)),
            new(AttentionConfig.Linear, FfnConfig.Linear),
            new(AttentionConfig.NoOp, FfnConfig.SwiGlu(172)),
            new(AttentionConfig.Gqa(2), FfnConfig.NoOp),
            new(AttentionConfig.NoOp, FfnConfig.NoOp),
        ],
    };

    public static ModelConfig Homogeneous() =>
        ModelConfig.Llama(vocab: 40, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 88) with { RmsNormEps = 1e-5, BosTokenId = 1, EosTokenId = 2 };

    public static Dictionary<string, torch.Tensor> RandomWeights(ModelConfig config, int seed = 0)
    {
        TorchRuntime.EnsureLoaded();
        var generator = new torch.Generator((ulong)seed);
        return CheckpointValidator.ExpectedShapes(config)
            .ToDictionary(p => p.Key, p => torch.randn(p.Value, generator: generator));
    }

    public static void DisposeAll(IEnumerable<torch.Tensor> tensors)
    {
        foreach (var t in tensors) t.Dispose();
    }

    public static uint[] Bits(torch.Tensor t) =>
        t.contiguous().data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();

    public static void AssertBitEqual(torch.Tensor expected, torch.Tensor actual, string name)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(torch.ScalarType.Float32, actual.dtype);
        Assert.True(Bits(expected).SequenceEqual(Bits(actual)), $"tensor {name} differs");
    }

    public static void AssertSameConfig(ModelConfig expected, ModelConfig actual)
    {
        Assert.Equal(expected.Blocks, actual.Blocks);
        Assert.Equal(expected with { Blocks = actual.Blocks }, actual);
    }

    public static CheckpointException AssertFails(Action action, params string[] mustMention)
    {
        var e = Assert.Throws<CheckpointException>(action);
        foreach (var text in mustMention) Assert.Contains(text, e.Message);
        return e;
    }

    /// <summary>Rewrites a safetensors header (data bytes untouched) after <paramref name="edit"/> changes it.</summary>
    public static void EditHeader(string path, Action<JsonObject> edit)
    {
        var bytes = File.ReadAllBytes(path);
        var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, length))!.AsObject();
        edit(header);
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var output = new byte[8 + json.Length + bytes.Length - 8 - length];
        BinaryPrimitives.WriteUInt64LittleEndian(output, (ulong)json.Length);
        json.CopyTo(output, 8);
        bytes.AsSpan(8 + length).CopyTo(output.AsSpan(8 + json.Length));
        File.WriteAllBytes(path, output);
    }

    /// <summary>Rewrites a JSON file after <paramref name="edit"/> changes it.</summary>
    public static void EditJson(string path, Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(root);
        File.WriteAllText(path, root.ToJsonString());
    }
}
