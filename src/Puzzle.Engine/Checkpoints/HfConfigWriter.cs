using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Model;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Writes a <see cref="ModelConfig"/> as a Hugging Face <c>config.json</c>: plain Llama, or nemotron-nas laid out as
/// NVIDIA's own Nemotron configs are (<c>num_key_value_heads</c> and <c>intermediate_size</c> null at the top level,
/// every block carrying all of its keys), with an <c>auto_map</c> to the configuration code written beside it
/// (<see cref="DeciLMConfigCode"/>).
/// </summary>
internal static class HfConfigWriter
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string ToJson(ModelConfig config, CheckpointFormat format, TensorDType dtype)
    {
        try { config.Validate(); }
        catch (ArgumentException e) { throw new CheckpointException($"config.json: {e.Message}", e); }
        format = Resolve(config, format);
        if (format == CheckpointFormat.Llama && !config.IsHomogeneous)
            throw new CheckpointException(
                $"config.json: the model's blocks differ ({string.Join(", ", config.Blocks.Distinct())}); LlamaForCausalLM cannot describe that, write nemotron-nas");
        var fields = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["attention_bias"] = false,
            ["bos_token_id"] = config.BosTokenId,
            ["eos_token_id"] = Eos(config),
            ["head_dim"] = config.HeadDim,
            ["hidden_act"] = "silu",
            ["hidden_size"] = config.HiddenSize,
            ["max_position_embeddings"] = config.MaxPositionEmbeddings,
            ["mlp_bias"] = false,
            ["num_attention_heads"] = config.NumAttentionHeads,
            ["num_hidden_layers"] = config.NumLayers,
            ["rms_norm_eps"] = config.RmsNormEps,
            ["rope_scaling"] = RopeScaling(config.RopeScaling),
            ["rope_theta"] = Float(config.RopeTheta), // 500000.0 as transformers writes it, a float in Python
            ["tie_word_embeddings"] = config.TieWordEmbeddings,
            ["torch_dtype"] = dtype.TorchName(),
            ["dtype"] = dtype.TorchName(),
            ["use_cache"] = true,
            ["vocab_size"] = config.VocabSize,
        };
        if (format == CheckpointFormat.Llama)
        {
            fields["architectures"] = new JsonArray(HfConfigReader.Llama);
            fields["model_type"] = "llama";
            fields["num_key_value_heads"] = config.Blocks[0].Attention.KvHeads;
            fields["intermediate_size"] = config.Blocks[0].Ffn.IntermediateSize;
        }
        else
        {
            fields["architectures"] = new JsonArray(HfConfigReader.DeciLM);
            fields["model_type"] = "nemotron-nas";
            fields["auto_map"] = new JsonObject { ["AutoConfig"] = DeciLMConfigCode.AutoConfig }; // the file Checkpoint.Save writes beside it
            fields["num_key_value_heads"] = null; // per layer, in block_configs
            fields["intermediate_size"] = null;
            fields["block_configs"] = new JsonArray(config.Blocks.Select(b => (JsonNode)BlockConfig(b, config)).ToArray());
        }
        var root = new JsonObject();
        foreach (var (key, value) in fields) root[key] = value;
        return root.ToJsonString(Indented) + "\n";
    }

    /// <summary>eos_token_id as config.json and generation_config.json hold it: one id, or the list where there are more.</summary>
    public static JsonNode? Eos(ModelConfig config) => config.MoreEosTokenIds.Count == 0 || config.EosTokenId is not { } first
        ? config.EosTokenId
        : new JsonArray(config.MoreEosTokenIds.Prepend(first).Select(id => (JsonNode)id).ToArray());

    /// <summary>The format written for <paramref name="format"/>: auto is Llama for a homogeneous model, else nemotron-nas.</summary>
    public static CheckpointFormat Resolve(ModelConfig config, CheckpointFormat format) =>
        format != CheckpointFormat.Auto ? format : config.IsHomogeneous ? CheckpointFormat.Llama : CheckpointFormat.NemotronNas;

    /// <summary>rope_scaling as transformers writes it: the settings the kind has, the factors (and rope_theta above) as
    /// floats (<c>8.0</c>, not <c>8</c>), which its llama3 validation asks for, warning at every load otherwise.</summary>
    static JsonNode? RopeScaling(RopeScaling? scaling)
    {
        if (scaling is null) return null;
        var fields = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["factor"] = Float(scaling.Factor),
            ["high_freq_factor"] = FloatOrNull(scaling.HighFreqFactor),
            ["low_freq_factor"] = FloatOrNull(scaling.LowFreqFactor),
            ["original_max_position_embeddings"] = scaling.OriginalMaxPositionEmbeddings,
            ["rope_type"] = scaling.RopeType,
            ["attention_factor"] = FloatOrNull(scaling.AttentionFactor),
            ["beta_fast"] = FloatOrNull(scaling.BetaFast),
            ["beta_slow"] = FloatOrNull(scaling.BetaSlow),
            ["mscale"] = FloatOrNull(scaling.Mscale),
            ["mscale_all_dim"] = FloatOrNull(scaling.MscaleAllDim),
            ["truncate"] = scaling.Truncate,
        };
        var node = new JsonObject();
        foreach (var (key, value) in fields)
            if (value is not null) node[key] = value;
        return node;
    }

    static JsonNode? FloatOrNull(double? value) => value is { } v ? Float(v) : null;

    /// <summary>A JSON number that reads as a float in Python: a whole number keeps its <c>.0</c>.</summary>
    static JsonNode Float(double value)
    {
        var text = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        return JsonNode.Parse(double.IsInteger(value) && !text.Contains('E') ? text + ".0" : text)!;
    }

    static JsonObject BlockConfig(BlockConfig block, ModelConfig config)
    {
        var attention = new JsonObject
        {
            ["n_heads_in_group"] = block.Attention.Kind == AttentionKind.Gqa ? config.NumAttentionHeads / block.Attention.KvHeads : null,
            ["no_op"] = block.Attention.Kind == AttentionKind.NoOp,
            ["replace_with_linear"] = block.Attention.Kind == AttentionKind.Linear,
        };
        var ffn = new JsonObject();
        if (block.Ffn.Kind == FfnKind.SwiGlu)
        {
            // ffn_mult only when it rebuilds this exact width (see DeciFfnSizing); otherwise the width stays exact
            if (DeciFfnSizing.FfnMultFor(block.Ffn.IntermediateSize, config.HiddenSize) is { } mult) ffn["ffn_mult"] = mult;
            ffn["intermediate_size"] = block.Ffn.IntermediateSize;
        }
        else
        {
            ffn["ffn_mult"] = null;
            ffn["intermediate_size"] = null;
        }
        ffn["no_op"] = block.Ffn.Kind == FfnKind.NoOp;
        ffn["replace_with_linear"] = block.Ffn.Kind == FfnKind.Linear;
        return new JsonObject { ["attention"] = attention, ["ffn"] = ffn };
    }
}
