using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tests.Cli;
using TorchSharp;
using Xunit;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Checkpoints;

/// <summary>A MistralForCausalLM parent without a sliding window is a Llama: read as one, computed as one, exported as one.</summary>
public sealed class MistralParentTests : IDisposable
{
    readonly TempDir _dir = new();

    public MistralParentTests() => TorchRuntime.EnsureLoaded();

    public void Dispose() => _dir.Dispose();

    /// <summary>The fixture's config.json as Mistral 7B v0.3 writes its own (RoPE without scaling, sliding_window null).</summary>
    static JsonObject MistralJson()
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureDir, "config.json")))!.AsObject();
        TestParents.AsMistral(json);
        return json;
    }

    [Fact]
    public void A_mistral_parent_without_a_sliding_window_gives_the_logits_of_the_same_weights_as_a_llama()
    {
        TestParents.Tiny(_dir["mistral"]);
        TestParents.Mistral(_dir["mistral"]);
        TestParents.Tiny(_dir["llama"]);
        var llama = MistralJson();
        llama["architectures"] = new JsonArray(HfConfigReader.Llama);
        llama["model_type"] = "llama";
        llama.Remove("sliding_window");
        File.WriteAllText(Path.Combine(_dir["llama"], "config.json"), llama.ToJsonString());

        AssertSameConfig(HfConfig.Read(_dir["llama"]), HfConfig.Read(_dir["mistral"]));
        using var asMistral = ParentModel.Load(_dir["mistral"]);
        using var asLlama = ParentModel.Load(_dir["llama"]);
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var ids = torch.tensor(new long[] { 1, 17, 912, 4, 30001, 250, 7 }).unsqueeze(0);
        AssertBitEqual(asLlama.Forward(ids), asMistral.Forward(ids), "logits");
    }

    [Theory]
    [InlineData("32768")] // at least every position: the window never applies
    [InlineData("40000")]
    public void A_sliding_window_as_long_as_the_context_is_no_window(string window)
    {
        var json = MistralJson();
        json["max_position_embeddings"] = 32768;
        json["sliding_window"] = JsonNode.Parse(window);
        var config = HfConfig.Parse(json.ToJsonString());
        Assert.Equal(32768, config.MaxPositionEmbeddings);
        Assert.True(config.IsHomogeneous);
    }

    [Fact]
    public void A_sliding_window_shorter_than_the_context_is_refused_naming_the_field_and_why()
    {
        var json = MistralJson(); // Mistral 7B v0.1
        json["max_position_embeddings"] = 32768;
        json["sliding_window"] = 4096;
        AssertFails(() => HfConfig.Parse(json.ToJsonString(), "m/config.json"),
            "m/config.json: field 'sliding_window' is 4096, below max_position_embeddings 32768: MistralForCausalLM then attends over only " +
            "the last 4096 tokens, and attention over a window is not implemented (a Mistral with sliding_window null, as v0.2 and later have, is supported)");
    }

    [Fact]
    public void A_missing_sliding_window_is_transformers_default_of_4096_and_a_missing_context_its_131072()
    {
        var json = MistralJson();
        json.Remove("sliding_window");
        json.Remove("max_position_embeddings");
        AssertFails(() => HfConfig.Parse(json.ToJsonString(), "m/config.json"),
            "field 'sliding_window' is missing, which transformers' MistralConfig reads as 4096, below max_position_embeddings 131072");

        json["sliding_window"] = null;
        Assert.Equal(131072, HfConfig.Parse(json.ToJsonString()).MaxPositionEmbeddings);
    }

    [Fact]
    public void Mistral_goes_with_its_own_model_type()
    {
        var json = MistralJson();
        json["model_type"] = "llama";
        AssertFails(() => HfConfig.Parse(json.ToJsonString(), "m/config.json"),
            "m/config.json: field 'model_type' is 'llama', which does not go with MistralForCausalLM (expected mistral)");
    }

    [Fact]
    public void A_child_of_a_mistral_parent_is_written_as_a_llama()
    {
        var config = HfConfig.Parse(MistralJson().ToJsonString());
        var written = JsonNode.Parse(HfConfig.ToJson(config))!.AsObject();
        Assert.Equal(HfConfigReader.Llama, written["architectures"]![0]!.GetValue<string>());
        Assert.Equal("llama", written["model_type"]!.GetValue<string>());
        Assert.False(written.ContainsKey("sliding_window"));
        AssertSameConfig(config, HfConfig.Parse(written.ToJsonString()));
    }
}
