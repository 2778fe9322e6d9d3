using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Xunit;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Checkpoints;

public sealed class HfConfigTests
{
    static JsonObject FixtureJson() => JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureDir, "config.json")))!.AsObject();

    [Fact]
    public void ReadsTheTransformers5Fixture()
    {
        var config = HfConfig.Read(FixtureDir);
        Assert.Equal(32000, config.VocabSize);
        Assert.Equal(64, config.HiddenSize);
        Assert.Equal(4, config.NumAttentionHeads);
        Assert.Equal(16, config.HeadDim);
        Assert.Equal(3, config.NumLayers);
        Assert.All(config.Blocks, b => Assert.Equal(new BlockConfig(AttentionConfig.Gqa(2), FfnConfig.SwiGlu(172)), b));
        Assert.Equal(500000, config.RopeTheta);
        Assert.Equal(new RopeScaling("llama3", 8, 1, 4, 64), config.RopeScaling);
        Assert.Equal(1e-5, config.RmsNormEps);
        Assert.Equal(512, config.MaxPositionEmbeddings);
        Assert.False(config.TieWordEmbeddings);
        Assert.Equal(1, config.BosTokenId);
        Assert.Equal(2, config.EosTokenId);
        Assert.True(config.IsHomogeneous);
    }

    /// <summary>transformers' llama3 RoPE validation warns at every load unless the factors are floats.</summary>
    [Fact]
    public void RopeThetaAndScalingFactorsAreWrittenAsFloats()
    {
        var config = HfConfig.Read(FixtureDir);
        var rope = JsonNode.Parse(HfConfig.ToJson(config))!["rope_scaling"]!;
        Assert.Equal(("8.0", "1.0", "4.0"), (rope["factor"]!.ToJsonString(), rope["low_freq_factor"]!.ToJsonString(), rope["high_freq_factor"]!.ToJsonString()));
        Assert.Equal("64", rope["original_max_position_embeddings"]!.ToJsonString());
        Assert.Equal("500000.0", JsonNode.Parse(HfConfig.ToJson(config))!["rope_theta"]!.ToJsonString()); // as the fixture, written by transformers
        var odd = config with { RopeScaling = config.RopeScaling! with { Factor = 2.5, LowFreqFactor = 1e-20 } };
        rope = JsonNode.Parse(HfConfig.ToJson(odd))!["rope_scaling"]!;
        Assert.Equal(("2.5", "1E-20"), (rope["factor"]!.ToJsonString(), rope["low_freq_factor"]!.ToJsonString()));
        Assert.Equal(odd.RopeScaling, HfConfig.Parse(HfConfig.ToJson(odd)).RopeScaling);
    }

    [Fact]
    public void OldStyleRopeParsesToTheSameConfig()
    {
        var json = FixtureJson();
        var rope = json["rope_parameters"]!.AsObject();
        json.Remove("rope_parameters");
        json["rope_theta"] = rope["rope_theta"]!.DeepClone();
        rope.Remove("rope_theta");
        json["rope_scaling"] = rope.DeepClone();
        AssertSameConfig(HfConfig.Read(FixtureDir), HfConfig.Parse(json.ToJsonString()));

        // the pre-4.43 spelling "type" instead of "rope_type"
        var scaling = json["rope_scaling"]!.AsObject();
        scaling["type"] = scaling["rope_type"]!.DeepClone();
        scaling.Remove("rope_type");
        AssertSameConfig(HfConfig.Read(FixtureDir), HfConfig.Parse(json.ToJsonString()));
    }

    [Fact]
    public void Several_eos_ids_are_kept_and_written_back_as_the_list_in_config_and_generation_config()
    {
        using var dir = new TempDir();
        var json = FixtureJson();
        json["eos_token_id"] = new JsonArray(128001, 128008, 128009); // Llama 3.1 Instruct's: generation stops at any
        var config = HfConfig.Parse(json.ToJsonString());
        Assert.Equal(128001, config.EosTokenId);
        Assert.Equal([128008, 128009], config.MoreEosTokenIds);
        var child = config with { Blocks = [.. config.Blocks.Take(1)] }; // a child keeps its parent's ids

        var weights = RandomWeights(child);
        try { Checkpoint.Save(dir["child"], child, weights); }
        finally { DisposeAll(weights.Values); }

        foreach (var file in new[] { "config.json", "generation_config.json" })
            Assert.Equal("[128001,128008,128009]", JsonNode.Parse(File.ReadAllText(dir[$"child/{file}"]))!["eos_token_id"]!.ToJsonString());
        Assert.Equal([128008, 128009], HfConfig.Read(dir["child"]).MoreEosTokenIds);
        Assert.Equal("2", JsonNode.Parse(HfConfig.ToJson(Homogeneous()))!["eos_token_id"]!.ToJsonString()); // one stays one
    }

    [Fact]
    public void DefaultsFollowTransformers()
    {
        var json = FixtureJson();
        foreach (var key in new[] { "head_dim", "num_key_value_heads", "tie_word_embeddings", "rope_parameters" }) json.Remove(key);
        json["eos_token_id"] = new JsonArray(7, 8, 9);
        var config = HfConfig.Parse(json.ToJsonString());
        Assert.Equal(16, config.HeadDim);
        Assert.Equal(AttentionConfig.Gqa(4), config.Blocks[0].Attention);
        Assert.False(config.TieWordEmbeddings);
        Assert.Equal(10000, config.RopeTheta);
        Assert.Null(config.RopeScaling);
        Assert.Equal(7, config.EosTokenId);
    }

    [Fact]
    public void UnsupportedArchitectureIsRefused()
    {
        var json = FixtureJson();
        json["architectures"] = new JsonArray("Qwen2ForCausalLM");
        AssertFails(() => HfConfig.Parse(json.ToJsonString(), "x/config.json"),
            "x/config.json", "unsupported architecture Qwen2ForCausalLM in config.json (expected LlamaForCausalLM, MistralForCausalLM or DeciLMForCausalLM)");
    }

    [Theory]
    [InlineData("hidden_size", null, "required field 'hidden_size' is missing")]
    [InlineData("intermediate_size", null, "required field 'intermediate_size' is missing")]
    [InlineData("hidden_size", "\"64\"", "field 'hidden_size' must be an integer")]
    [InlineData("rms_norm_eps", "[1]", "field 'rms_norm_eps' must be a number")]
    [InlineData("tie_word_embeddings", "\"no\"", "field 'tie_word_embeddings' must be true or false")]
    [InlineData("num_key_value_heads", "3", "num_key_value_heads 3 must divide num_attention_heads 4")]
    [InlineData("attention_bias", "true", "field 'attention_bias' is true")]
    [InlineData("hidden_act", "\"gelu\"", "field 'hidden_act' is 'gelu'; only silu (SwiGLU; 'swish' is the same) is supported")]
    [InlineData("quantization_config", "{\"quant_method\": \"compressed-tensors\", \"format\": \"float-quantized\"}",
        "field 'quantization_config' says the weights are quantized (compressed-tensors); quantized checkpoints are not supported")]
    [InlineData("quantization_config", "{\"bits\": 4}", "field 'quantization_config' says the weights are quantized; quantized checkpoints")]
    public void BadFieldsAreNamed(string field, string? value, string message)
    {
        var json = FixtureJson();
        if (value is null) json.Remove(field);
        else json[field] = JsonNode.Parse(value);
        AssertFails(() => HfConfig.Parse(json.ToJsonString(), "config.json"), "config.json", message);
    }

    /// <summary>transformers maps hidden_act "swish" to the same SiLU as "silu": such a parent reads as the silu one.</summary>
    [Fact]
    public void SwishIsSilu()
    {
        var json = FixtureJson();
        json["hidden_act"] = "swish";
        AssertSameConfig(HfConfig.Read(FixtureDir), HfConfig.Parse(json.ToJsonString()));
    }

    [Fact]
    public void UnsupportedRopeTypeIsNamed()
    {
        var json = FixtureJson();
        json["rope_parameters"]!["rope_type"] = "longrope";
        AssertFails(() => HfConfig.Parse(json.ToJsonString()), "field 'rope_parameters.rope_type' is 'longrope'; supported: default, linear, dynamic, yarn, llama3");
    }

    /// <summary>RoPE settings the project would compute differently are refused at the field, not read as plain RoPE: a
    /// scaling factor whose kind is not said (transformers cannot build that model; read as no scaling, the factor was
    /// dropped silently), and rotation over part of each head (transformers and vLLM rotate that part only).</summary>
    [Theory]
    [InlineData("rope_scaling", "{\"factor\": 8.0}", "field 'rope_scaling.rope_type' is missing, but 'rope_scaling.factor' is set")]
    [InlineData("rope_parameters", "{\"rope_theta\": 500000.0, \"factor\": 8.0}", "field 'rope_parameters.rope_type' is missing, but 'rope_parameters.factor' is set")]
    [InlineData("partial_rotary_factor", "0.5", "field 'partial_rotary_factor' is 0.5; only RoPE over the whole head (1.0) is supported")]
    [InlineData("rope_scaling", "{\"rope_type\": \"linear\"}", "required field 'rope_scaling.factor' is missing")]
    [InlineData("rope_scaling", "{\"rope_type\": \"linear\", \"factor\": 0.5}", "field 'rope_scaling.factor' must be at least 1, got 0.5")]
    // the fixture's max_position_embeddings is 512: transformers would scale by 512 / 64 = 8, vLLM by the stated 4
    [InlineData("rope_scaling", "{\"rope_type\": \"yarn\", \"factor\": 4.0, \"original_max_position_embeddings\": 64}",
        "field 'rope_scaling.factor' is 4, but max_position_embeddings 512 over original_max_position_embeddings 64 is 8: transformers scales by the latter, vLLM by the former")]
    [InlineData("rope_parameters", "{\"rope_theta\": 10000.0, \"rope_type\": \"default\", \"partial_rotary_factor\": 0.25}",
        "field 'rope_parameters.partial_rotary_factor' is 0.25")]
    public void RopeTheModelCannotComputeIsRefused(string field, string value, string message)
    {
        var json = FixtureJson();
        json.Remove("rope_parameters");
        json["rope_theta"] = 500000.0;
        json[field] = JsonNode.Parse(value);
        AssertFails(() => HfConfig.Parse(json.ToJsonString(), "config.json"), "config.json", message);
    }

    /// <summary>What needs no kind still reads as plain RoPE: transformers 5's rope_parameters with only a theta, a
    /// whole-head partial_rotary_factor, and a null rope_scaling (Llama 2's).</summary>
    [Fact]
    public void RopeWithoutScalingStillReads()
    {
        var json = FixtureJson();
        json["rope_parameters"] = JsonNode.Parse("{\"rope_theta\": 10000.0, \"partial_rotary_factor\": 1.0}");
        Assert.Null(HfConfig.Parse(json.ToJsonString()).RopeScaling);
        json.Remove("rope_parameters");
        json["rope_scaling"] = null;
        Assert.Null(HfConfig.Parse(json.ToJsonString()).RopeScaling);
    }

    [Fact]
    public void HomogeneousWritesPlainLlamaWithTopLevelRope()
    {
        var config = HfConfig.Read(FixtureDir);
        var json = JsonNode.Parse(HfConfig.ToJson(config))!.AsObject();
        Assert.Equal("LlamaForCausalLM", json["architectures"]![0]!.GetValue<string>());
        Assert.Equal("llama", json["model_type"]!.GetValue<string>());
        Assert.Equal("float32", json["torch_dtype"]!.GetValue<string>());
        Assert.Equal(500000, json["rope_theta"]!.GetValue<double>());
        Assert.Equal("llama3", json["rope_scaling"]!["rope_type"]!.GetValue<string>());
        Assert.False(json.ContainsKey("rope_parameters"));
        Assert.False(json.ContainsKey("block_configs"));
        AssertSameConfig(config, HfConfig.Parse(json.ToJsonString()));
    }

    [Fact]
    public void HeterogeneousWritesNemotronNasAndReadsBack()
    {
        var config = Heterogeneous();
        Assert.Throws<CheckpointException>(() => HfConfig.ToJson(config, CheckpointFormat.Llama));
        var json = JsonNode.Parse(HfConfig.ToJson(config))!.AsObject();
        Assert.Equal("DeciLMForCausalLM", json["architectures"]![0]!.GetValue<string>());
        Assert.Equal("nemotron-nas", json["model_type"]!.GetValue<string>());
        Assert.Null(json["num_key_value_heads"]);
        Assert.True(json.ContainsKey("num_key_value_heads"));
        Assert.Equal(DeciLMConfigCode.AutoConfig, json["auto_map"]!["AutoConfig"]!.GetValue<string>()); // the code Checkpoint.Save writes beside it
        var blocks = json["block_configs"]!.AsArray();
        Assert.Equal(1, blocks[0]!["attention"]!["n_heads_in_group"]!.GetValue<int>());
        Assert.Equal(4, blocks[1]!["attention"]!["n_heads_in_group"]!.GetValue<int>());
        Assert.True(blocks[2]!["attention"]!["replace_with_linear"]!.GetValue<bool>());
        Assert.True(blocks[3]!["attention"]!["no_op"]!.GetValue<bool>());
        // 256 = roundup256(int(2*6.0*64/3)): exact, so ffn_mult is written; 100 and 172 have no exact ffn_mult
        Assert.Equal(6.0, blocks[0]!["ffn"]!["ffn_mult"]!.GetValue<double>());
        Assert.Equal(256, blocks[0]!["ffn"]!["intermediate_size"]!.GetValue<int>());
        Assert.False(blocks[1]!["ffn"]!.AsObject().ContainsKey("ffn_mult"));
        Assert.Equal(100, blocks[1]!["ffn"]!["intermediate_size"]!.GetValue<int>());
        Assert.True(blocks[4]!["ffn"]!["no_op"]!.GetValue<bool>());
        AssertSameConfig(config, HfConfig.Parse(json.ToJsonString()));

        // a homogeneous model on request, and a tied one
        var llama = HfConfig.Read(FixtureDir);
        AssertSameConfig(llama, HfConfig.Parse(HfConfig.ToJson(llama, CheckpointFormat.NemotronNas)));
        AssertSameConfig(Heterogeneous(tie: true), HfConfig.Parse(HfConfig.ToJson(Heterogeneous(tie: true))));
    }

    [Fact]
    public void ReadsNvidiaStyleBlockConfigs()
    {
        // the shape of Llama-3.1-Nemotron-51B's config: ffn_mult only, nulls for unused keys
        var json = FixtureJson();
        json["architectures"] = new JsonArray("DeciLMForCausalLM");
        json["model_type"] = "nemotron-nas";
        json["hidden_size"] = 8192;
        json["num_attention_heads"] = 64;
        json["head_dim"] = null;
        json["num_key_value_heads"] = null;
        json["intermediate_size"] = null;
        json["num_hidden_layers"] = 3;
        json["block_configs"] = JsonNode.Parse("""
            [ { "attention": { "n_heads_in_group": 8, "no_op": false, "replace_with_linear": false, "sparsify": null },
                "ffn": { "ffn_mult": 5.25, "no_op": false, "replace_with_linear": false } },
              { "attention": { "n_heads_in_group": null, "no_op": true, "replace_with_linear": false },
                "ffn": { "ffn_mult": 1.95, "no_op": false, "replace_with_linear": false } },
              { "attention": { "n_heads_in_group": null, "no_op": false, "replace_with_linear": true },
                "ffn": { "ffn_mult": null, "no_op": true, "replace_with_linear": false } } ]
            """);
        var config = HfConfig.Parse(json.ToJsonString());
        Assert.Equal(128, config.HeadDim);
        Assert.Equal(new BlockConfig(AttentionConfig.Gqa(8), FfnConfig.SwiGlu(28672)), config.Blocks[0]);
        // int(2*1.95*8192/3) = 10649, rounded up to 10752
        Assert.Equal(new BlockConfig(AttentionConfig.NoOp, FfnConfig.SwiGlu(10752)), config.Blocks[1]);
        Assert.Equal(new BlockConfig(AttentionConfig.Linear, FfnConfig.NoOp), config.Blocks[2]);
    }

    [Fact]
    public void A_missing_config_names_the_model_folder_inside_where_there_is_one()
    {
        using var dir = new TempDir();
        var model = dir["model"];
        var bare = Assert.Throws<CheckpointException>(() => HfConfig.Read(dir.Path));
        Assert.Equal($"{dir["config.json"]}: missing; a Hugging Face checkpoint needs its config.json", bare.Message);

        // an exported child's folder (export/childN/) holds export.json and model/, its Hugging Face folder
        Directory.CreateDirectory(model);
        File.Copy(Path.Combine(FixtureDir, "config.json"), Path.Combine(model, "config.json"));
        var e = Assert.Throws<CheckpointException>(() => HfConfig.Read(dir.Path));
        Assert.EndsWith($"(the Hugging Face folder here is {model})", e.Message);
        Assert.Equal(32000, HfConfig.Read(model).VocabSize);
    }

    [Fact]
    public void BadBlockConfigsAreNamed()
    {
        var json = JsonNode.Parse(HfConfig.ToJson(Heterogeneous()))!.AsObject();
        json["block_configs"]![1]!["ffn"]!["ffn_mult"] = 3.0; // gives 256, but intermediate_size says 100
        AssertFails(() => HfConfig.Parse(json.ToJsonString()), "field 'block_configs[1].ffn.ffn_mult' 3 gives width 256 but intermediate_size says 100");
        json["block_configs"]![1]!["ffn"]!.AsObject().Remove("ffn_mult");
        json["block_configs"]![0]!["attention"]!["n_heads_in_group"] = 3;
        AssertFails(() => HfConfig.Parse(json.ToJsonString()), "field 'block_configs[0].attention.n_heads_in_group' is 3");
        json["block_configs"]!.AsArray().RemoveAt(5);
        AssertFails(() => HfConfig.Parse(json.ToJsonString()), "field 'block_configs' has 5 entries but num_hidden_layers is 6");
    }

    [Theory]
    [InlineData(5.25, 8192, 28672)]   // Nemotron-51B's widest FFN: Llama-3.1-70B's 28672
    [InlineData(2.625, 8192, 14336)]
    [InlineData(1.95, 16384, 21504)]  // int(21299.2) = 21299, rounded up
    [InlineData(0.1, 64, 256)]
    public void FfnMultMatchesVllmFormula(double mult, int hidden, int width) =>
        Assert.Equal(width, DeciFfnSizing.IntermediateSize(mult, hidden));

    [Theory]
    [InlineData(28672, 8192, 5.25)]
    [InlineData(768, 256, 4.5)]
    [InlineData(512, 96, 8.0)]
    [InlineData(704, 256, null)]
    [InlineData(172, 64, null)]
    public void FfnMultIsWrittenOnlyWhenExact(int width, int hidden, double? mult) =>
        Assert.Equal(mult, DeciFfnSizing.FfnMultFor(width, hidden));
}
