using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Model;

/// <summary>
/// Each RoPE scaling kind a parent's config.json may state (linear, dynamic, yarn with its settings) gives the inverse
/// frequencies, attention factor, cos and sin transformers computes: checked against
/// <c>Fixtures/rope-scaling/reference.json</c>, written by <c>reference.py</c> beside it from transformers' formulas. Each
/// case goes through config.json as a user's parent would: read, then written back and read again.
/// </summary>
public class RopeScalingReferenceTests
{
    static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Fixtures", "rope-scaling", "reference.json"))).RootElement;

    /// <summary>A one-layer Llama config.json with the case's RoPE settings (head_dim 16 from 64 / 4 heads).</summary>
    static ModelConfig Parse(JsonElement reference, string field = "rope_scaling")
    {
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["hidden_size"] = 4 * reference.GetProperty("head_dim").GetInt32(), ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2,
            ["num_hidden_layers"] = 1, ["intermediate_size"] = 128, ["vocab_size"] = 32,
            ["max_position_embeddings"] = reference.GetProperty("max_position_embeddings").GetInt32(),
            ["rope_theta"] = reference.GetProperty("rope_theta").GetDouble(),
            [field] = JsonNode.Parse(reference.GetProperty("rope_scaling").GetRawText()),
        };
        return HfConfig.Parse(json.ToJsonString(), "config.json");
    }

    static double[] Values(JsonElement reference, string name) =>
        reference.GetProperty(name).EnumerateArray().Select(x => x.GetDouble()).ToArray();

    public static TheoryData<string> Cases => new(Reference.EnumerateObject().Select(c => c.Name));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Frequencies_cos_and_sin_match_transformers(string name)
    {
        Fixtures.Torch();
        var reference = Reference.GetProperty(name);
        var config = Parse(reference);
        Assert.Equal(reference.GetProperty("rope_scaling").GetProperty("rope_type").GetString(), config.RopeScaling!.RopeType);
        var rotary = new RotaryEmbedding(config);
        using var scope = NewDisposeScope();
        // at position 1 the angles are the inverse frequencies themselves; sin is the angle to within its cube there
        var (cos, sin) = rotary.At(300, 1, CPU, float32);
        AssertClose(Values(reference, "cos300"), cos[0].data<float>().ToArray(), 2e-6);
        AssertClose(Values(reference, "sin300"), sin[0].data<float>().ToArray(), 2e-6);
        var frequencies = rotary.InverseFrequencies.data<float>().ToArray();
        AssertClose(Values(reference, "inv_freq"), frequencies, 1e-7, relative: true);
    }

    /// <summary>An export writes the parent's scaling back as transformers writes it (factors as floats, no settings the
    /// parent did not state), and it reads back to the same configuration; transformers 5's rope_parameters reads the same.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Scaling_round_trips_through_config_json(string name)
    {
        var reference = Reference.GetProperty(name);
        var config = Parse(reference);
        var written = JsonNode.Parse(HfConfig.ToJson(config))!["rope_scaling"]!.AsObject();
        var stated = reference.GetProperty("rope_scaling").EnumerateObject().Select(p => p.Name).Order();
        Assert.Equal(stated, written.Select(p => p.Key).Order());
        Assert.Contains(".", written["factor"]!.ToJsonString());
        var again = HfConfig.Parse(HfConfig.ToJson(config));
        Assert.Equal((config.RopeTheta, config.RopeScaling, config.MaxPositionEmbeddings), (again.RopeTheta, again.RopeScaling, again.MaxPositionEmbeddings));
        Assert.Equal(config.RopeScaling, Parse(reference, "rope_parameters").RopeScaling);
    }

    static void AssertClose(double[] expected, float[] actual, double tolerance, bool relative = false)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var bound = relative ? tolerance * Math.Abs(expected[i]) : tolerance;
            Assert.True(Math.Abs(expected[i] - actual[i]) <= bound, $"[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
