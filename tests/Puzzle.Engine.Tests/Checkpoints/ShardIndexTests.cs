using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Runtime;
using TorchSharp;
using Xunit;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Checkpoints;

/// <summary>A sharded folder whose model.safetensors.index.json and shards disagree, as hand-made or merged exports do.</summary>
public sealed class ShardIndexTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly Dictionary<string, torch.Tensor> _weights;

    public ShardIndexTests()
    {
        TorchRuntime.EnsureLoaded();
        _weights = RandomWeights(Homogeneous());
        Checkpoint.Save(_dir["m"], Homogeneous(), _weights, maxShardBytes: 6_000);
    }

    public void Dispose()
    {
        DisposeAll(_weights.Values);
        _dir.Dispose();
    }

    string Index => _dir["m/model.safetensors.index.json"];

    JsonObject WeightMap => JsonNode.Parse(File.ReadAllText(Index))!["weight_map"]!.AsObject();

    string ShardOf(string tensor) => WeightMap[tensor]!.GetValue<string>();

    /// <summary>Adds <paramref name="tensor"/> (its weights) to <paramref name="shard"/>, rewriting the shard whole.</summary>
    void AddToShard(string shard, string tensor, torch.Tensor value)
    {
        var path = _dir[$"m/{shard}"];
        Dictionary<string, torch.Tensor> tensors;
        using (var file = SafeTensorsFile.Open(path)) tensors = file.Names.ToDictionary(n => n, file.Read);
        tensors[tensor] = value;
        SafeTensorsWriter.Write(path, tensors);
        DisposeAll(tensors.Where(p => p.Key != tensor).Select(p => p.Value));
    }

    [Fact]
    public void ATensorTheIndexGivesTwoShardsIsNamed()
    {
        const string tensor = "model.norm.weight";
        var listed = ShardOf(tensor);
        var other = Directory.GetFiles(_dir["m"], "model-*.safetensors").Select(Path.GetFileName).First(s => s != listed)!;
        // JSON allows a repeated key; System.Text.Json's nodes do not, so the text is edited
        File.WriteAllText(Index, File.ReadAllText(Index).Replace("\"weight_map\": {", $"\"weight_map\": {{\n    \"{tensor}\": \"{other}\","));
        AssertFails(() => Checkpoint.Open(_dir["m"]), Index, $"field 'weight_map.{tensor}' is given twice, as '{other}' and as '{listed}'");

        // the same shard twice says one thing
        File.WriteAllText(Index, File.ReadAllText(Index).Replace($"\"{tensor}\": \"{other}\"", $"\"{tensor}\": \"{listed}\""));
        var (_, tensors) = Checkpoint.Open(_dir["m"]);
        tensors.Dispose();
    }

    [Fact]
    public void ATensorInTwoShardsIsRefusedNamingBoth()
    {
        const string tensor = "model.embed_tokens.weight";
        var listed = ShardOf(tensor);
        var other = WeightMap.Select(p => p.Value!.GetValue<string>()).First(s => s != listed);
        using var copy = torch.zeros_like(_weights[tensor]); // another copy: which one a loader ends with would decide the model
        AddToShard(other, tensor, copy);
        AssertFails(() => Checkpoint.Open(_dir["m"]), _dir[$"m/{other}"], $"tensor '{tensor}' is also in {listed}, where model.safetensors.index.json places it",
            "remove one of them");
    }

    [Fact]
    public void AShardsTensorTheIndexLeavesOutIsRead()
    {
        // transformers and vLLM read every tensor of the shards the index names, whatever it lists of each
        var map = WeightMap;
        var tensor = map.First(p => map.Count(q => q.Value!.GetValue<string>() == p.Value!.GetValue<string>()) > 1).Key;
        EditJson(Index, index => index["weight_map"]!.AsObject().Remove(tensor));
        var (_, tensors) = Checkpoint.Open(_dir["m"]);
        using (tensors)
        {
            using var read = tensors.Read(tensor);
            AssertBitEqual(_weights[tensor], read, tensor);
        }

        // one the model has no place for is refused, as it is where the index lists it
        using var bias = torch.zeros(32);
        AddToShard(ShardOf("model.norm.weight"), "model.layers.1.self_attn.q_proj.bias", bias);
        AssertFails(() => Checkpoint.Open(_dir["m"]), "tensor 'model.layers.1.self_attn.q_proj.bias' has no place");
    }

    [Fact]
    public void AnIndexThatListsNoTensorsIsNamed()
    {
        EditJson(Index, index => index["weight_map"] = new JsonObject());
        AssertFails(() => Checkpoint.Open(_dir["m"]), Index, "field 'weight_map' lists no tensors");
    }
}
