using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using TorchSharp;
using Xunit;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Checkpoints;

public sealed class CheckpointTests : IDisposable
{
    readonly TempDir _dir = new();

    public CheckpointTests() => TorchRuntime.EnsureLoaded();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void OpensAndValidatesTheShardedFixture()
    {
        var (config, tensors) = Checkpoint.Open(FixtureDir);
        using (tensors)
        {
            Assert.Equal(3, tensors.Files.Count);
            Assert.Equal(CheckpointValidator.ExpectedShapes(config).Keys.Order(), tensors.Names.Order());
            Assert.Equal(new long[] { 32000, 64 }, tensors.Info("model.embed_tokens.weight").Shape);
            Assert.Equal(new long[] { 32, 64 }, tensors.Info("model.layers.2.self_attn.k_proj.weight").Shape);
            using var norm = tensors.Read("model.norm.weight");
            var mean = norm.mean().item<float>();
            Assert.InRange(mean, 0.8f, 1.2f); // norm weights were made as 1 + 0.2·N(0,1)
        }
    }

    [Fact]
    public void ReadingOneLayerReadsOnlyThatLayersBytes()
    {
        var (config, tensors) = Checkpoint.Open(FixtureDir);
        using (tensors)
        {
            Assert.Equal(0, tensors.DataBytesRead); // opening parsed headers only
            var layer = CheckpointValidator.ExpectedShapes(config).Keys.Where(n => n.StartsWith("model.layers.1.")).ToList();
            long expected = 0;
            foreach (var name in layer)
            {
                using var t = tensors.Read(name);
                expected += tensors.Info(name).ByteCount;
            }
            var shard = tensors.FileOf(layer[0]);
            Assert.Equal(expected, shard.DataBytesRead);
            Assert.All(tensors.Files.Where(f => f != shard), f => Assert.Equal(0, f.DataBytesRead));
        }
    }

    [Fact]
    public void HomogeneousRoundTripIsBitExact()
    {
        var config = Homogeneous();
        var weights = RandomWeights(config);
        var tokenizer = Path.Combine(FixtureDir, "tokenizer.json");
        Checkpoint.Save(_dir["llama"], config, weights, tokenizerPath: tokenizer);
        Assert.True(File.Exists(_dir["llama/model.safetensors"]));
        Assert.Equal(File.ReadAllBytes(tokenizer), File.ReadAllBytes(_dir["llama/tokenizer.json"]));
        var generation = JsonNode.Parse(File.ReadAllText(_dir["llama/generation_config.json"]))!;
        Assert.Equal(2, generation["eos_token_id"]!.GetValue<int>());
        AssertRoundTrip(_dir["llama"], config, weights);
        DisposeAll(weights.Values);
    }

    [Fact]
    public void HeterogeneousRoundTripAsNemotronNasIsBitExactAndShards()
    {
        var config = Heterogeneous();
        var weights = RandomWeights(config, seed: 3);
        Checkpoint.Save(_dir["child"], config, weights, maxShardBytes: 40_000);
        Assert.Contains("\"nemotron-nas\"", File.ReadAllText(_dir["child/config.json"]));
        Assert.True(File.Exists(_dir["child/model.safetensors.index.json"]));
        var shards = Directory.GetFiles(_dir["child"], "model-*-of-*.safetensors");
        Assert.True(shards.Length >= 3, $"expected several shards, got {shards.Length}");
        Assert.All(shards, s =>
        {
            using var shard = SafeTensorsFile.Open(s); // over the limit only when one tensor alone is
            Assert.True(shard.Names.Count == 1 || shard.Names.Sum(n => shard.Info(n).ByteCount) <= 40_000);
        });
        AssertRoundTrip(_dir["child"], config, weights);

        var tied = Heterogeneous(tie: true);
        var tiedWeights = RandomWeights(tied, seed: 4);
        Checkpoint.Save(_dir["tied"], tied, tiedWeights);
        AssertRoundTrip(_dir["tied"], tied, tiedWeights);
        DisposeAll(weights.Values.Concat(tiedWeights.Values));
    }

    [Theory]
    [InlineData(TensorDType.BF16)]
    [InlineData(TensorDType.F16)]
    public void HalfPrecisionSaveRoundTripsRepresentableValues(TensorDType dtype)
    {
        var config = Homogeneous();
        // randn rounded to a few mantissa bits: representable in both bf16 and f16
        var weights = RandomWeights(config).ToDictionary(p => p.Key, p => (p.Value * 16).round() / 16);
        Checkpoint.Save(_dir["half"], config, weights, dtype: dtype, maxShardBytes: 6_000);
        var json = JsonNode.Parse(File.ReadAllText(_dir["half/config.json"]))!;
        Assert.Equal(dtype.TorchName(), json["torch_dtype"]!.GetValue<string>());
        var (_, tensors) = Checkpoint.Open(_dir["half"]);
        using (tensors) Assert.Equal(dtype, tensors.Info("model.norm.weight").DType);
        AssertRoundTrip(_dir["half"], config, weights);
        DisposeAll(weights.Values);
    }

    [Fact]
    public void SavingReplacesAnExistingFolderWhole()
    {
        var config = Homogeneous();
        var weights = RandomWeights(config);
        Checkpoint.Save(_dir["m"], config, weights, maxShardBytes: 6_000);
        Assert.True(File.Exists(_dir["m/model.safetensors.index.json"]));
        Checkpoint.Save(_dir["m"], config, weights);
        Assert.False(File.Exists(_dir["m/model.safetensors.index.json"])); // no stale shards left behind
        Assert.Equal(new[] { "m" }, Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName));
        AssertRoundTrip(_dir["m"], config, weights);

        // a refused save leaves the old folder as it was
        weights.Remove("model.norm.weight", out var norm);
        AssertFails(() => Checkpoint.Save(_dir["m"], config, weights), "tensor 'model.norm.weight'", "missing");
        weights["model.norm.weight"] = norm!;
        AssertRoundTrip(_dir["m"], config, weights);
        DisposeAll(weights.Values);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        var dir = SaveHeterogeneous(maxShardBytes: null);
        var file = Path.Combine(dir, "model.safetensors");
        EditHeader(file, h => h.Remove("model.layers.1.mlp.up_proj.weight"));
        AssertFails(() => Checkpoint.Open(dir), dir, "tensor 'model.layers.1.mlp.up_proj.weight' [100, 64] is missing", "config.json");
    }

    [Fact]
    public void ShapeThatDisagreesWithConfigIsNamed()
    {
        var dir = SaveHeterogeneous(maxShardBytes: null);
        EditJson(Path.Combine(dir, "config.json"), c => c["block_configs"]![1]!["ffn"]!["intermediate_size"] = 96);
        AssertFails(() => Checkpoint.Open(dir), "model.safetensors", "tensor 'model.layers.1.mlp.gate_proj.weight' has shape [100, 64]", "needs [96, 64]");
    }

    [Theory]
    [InlineData("head_dim", 16, "tensor 'model.layers.0.self_attn.q_proj.weight' has shape [32, 32]", "(layer 0: num_attention_heads 4 × head_dim 16, hidden_size 32) needs [64, 32]")]
    [InlineData("num_key_value_heads", 1, "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16, 32]", "(layer 0: 1 key-value head × head_dim 8, hidden_size 32) needs [8, 32]")]
    [InlineData("vocab_size", 50, "tensor 'model.embed_tokens.weight' has shape [40, 32]", "(vocab_size 50, hidden_size 32) needs [50, 32]")]
    public void AShapeErrorNamesTheFieldsTheShapeComesFrom(string field, int value, string found, string needs)
    {
        // Llama 3.2-style configs give head_dim outright; weights made for hidden_size / num_attention_heads then disagree
        var config = Homogeneous();
        var weights = RandomWeights(config);
        Checkpoint.Save(_dir["m"], config, weights);
        DisposeAll(weights.Values);
        EditJson(_dir["m/config.json"], c => c[field] = value);
        AssertFails(() => Checkpoint.Open(_dir["m"]), _dir["m/model.safetensors"], found, needs);
    }

    [Fact]
    public void WeightWithNoPlaceInTheConfigIsNamed()
    {
        var dir = SaveHeterogeneous(maxShardBytes: null);
        // layer 4 becomes no-op attention while its q/k/v/o weights are still there
        EditJson(Path.Combine(dir, "config.json"), c => c["block_configs"]![4]!["attention"] =
            JsonNode.Parse("""{ "n_heads_in_group": null, "no_op": true, "replace_with_linear": false }"""));
        AssertFails(() => Checkpoint.Open(dir), "model.safetensors", "tensor 'model.layers.4.", "has no place");
    }

    [Theory]
    [InlineData(float.NaN, TensorDType.BF16)]
    [InlineData(float.PositiveInfinity, TensorDType.F32)]
    [InlineData(float.NegativeInfinity, TensorDType.F16)]
    public void AWeightThatIsNotFiniteIsNamedByTheFullCheck(float value, TensorDType dtype)
    {
        var config = Homogeneous();
        var weights = RandomWeights(config);
        var dir = _dir["m"];
        Checkpoint.Save(dir, config, weights, CheckpointFormat.Llama, dtype);
        using (var clean = CheckpointTensors.Open(dir))
            Assert.Equal(clean.Names.Sum(n => clean.Info(n).ByteCount), CheckpointValidator.CheckFinite(config, clean));

        weights["model.layers.1.mlp.down_proj.weight"][3, 5] = value;
        Checkpoint.Save(dir, config, weights, CheckpointFormat.Llama, dtype);
        DisposeAll(weights.Values);
        var (opened, tensors) = Checkpoint.Open(dir); // names and shapes are right: only the full check reads the values
        using (tensors)
            AssertFails(() => CheckpointValidator.CheckFinite(opened, tensors),
                "model.safetensors", "tensor 'model.layers.1.mlp.down_proj.weight' holds 1 NaN or infinite value of");
    }

    [Theory]
    [InlineData(torch.ScalarType.Float32)]
    [InlineData(torch.ScalarType.Float16)]
    [InlineData(torch.ScalarType.BFloat16)]
    public void NonFiniteValuesAreCountedOnTheirBitsWhereverTheyLie(torch.ScalarType dtype)
    {
        using var values = torch.linspace(-60000, 60000, 1001).to(dtype); // the largest finite float16s, and odd lengths past the vectors
        Assert.Equal(0, TensorBytes.NonFinite(values));
        values[0] = float.NaN;
        values[17] = float.NegativeInfinity;
        values[500] = float.PositiveInfinity;
        values[1000] = float.NaN; // in the tail, past the last whole vector
        Assert.Equal(4, TensorBytes.NonFinite(values));
    }

    [Fact]
    public void UnsupportedArchitectureIsNamedOnOpen()
    {
        var dir = SaveHeterogeneous(maxShardBytes: null);
        EditJson(Path.Combine(dir, "config.json"), c => c["architectures"] = new JsonArray("GPT2LMHeadModel"));
        AssertFails(() => Checkpoint.Open(dir), Path.Combine(dir, "config.json"), "unsupported architecture GPT2LMHeadModel");
    }

    [Fact]
    public void BrokenGenerationConfigIsNamedOnOpen()
    {
        var dir = SaveHeterogeneous(maxShardBytes: null);
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), "{\"temperature\": 0.6,\n\"top_p\": }");
        AssertFails(() => Checkpoint.Open(dir), Path.Combine(dir, "generation_config.json"), "not valid JSON", "line 2");
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), "[0.6]");
        AssertFails(() => Checkpoint.Open(dir), Path.Combine(dir, "generation_config.json"), "must be a JSON object");
    }

    [Fact]
    public void MissingShardIsNamed()
    {
        var dir = SaveHeterogeneous(maxShardBytes: 40_000);
        var shard = Directory.GetFiles(dir, "model-*-of-*.safetensors").Order().Last();
        File.Delete(shard);
        AssertFails(() => Checkpoint.Open(dir), "model.safetensors.index.json", $"shard '{Path.GetFileName(shard)}', which is missing");
    }

    [Fact]
    public void TensorListedInIndexButAbsentFromItsShardIsNamed()
    {
        var dir = SaveHeterogeneous(maxShardBytes: 40_000);
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "model.safetensors.index.json")))!;
        var shard = index["weight_map"]!["model.layers.0.mlp.down_proj.weight"]!.GetValue<string>();
        EditHeader(Path.Combine(dir, shard), h => h.Remove("model.layers.0.mlp.down_proj.weight"));
        AssertFails(() => Checkpoint.Open(dir), shard, "tensor 'model.layers.0.mlp.down_proj.weight' is listed for this shard");
    }

    [Fact]
    public void CorruptShardIsNamedOnOpen()
    {
        var dir = SaveHeterogeneous(maxShardBytes: 40_000);
        var shard = Directory.GetFiles(dir, "model-*-of-*.safetensors").Order().First();
        using (var stream = File.Open(shard, FileMode.Open)) stream.SetLength(stream.Length - 100);
        AssertFails(() => Checkpoint.Open(dir), Path.GetFileName(shard), "truncated");
    }

    string SaveHeterogeneous(long? maxShardBytes)
    {
        var config = Heterogeneous();
        var weights = RandomWeights(config);
        var dir = _dir["het"];
        Checkpoint.Save(dir, config, weights, maxShardBytes: maxShardBytes);
        DisposeAll(weights.Values);
        return dir;
    }

    static void AssertRoundTrip(string dir, ModelConfig config, IReadOnlyDictionary<string, torch.Tensor> weights)
    {
        var (readConfig, tensors) = Checkpoint.Open(dir);
        using (tensors)
        {
            AssertSameConfig(config, readConfig);
            Assert.Equal(weights.Keys.Order(), tensors.Names.Order());
            foreach (var (name, expected) in weights)
            {
                using var actual = tensors.Read(name);
                AssertBitEqual(expected, actual, name);
            }
        }
    }
}
