using System.Text.Json;
using Puzzle.Engine.Model;

namespace Puzzle.Engine.Checkpoints;

/// <summary>Reads a Hugging Face <c>config.json</c> (LlamaForCausalLM, MistralForCausalLM without a sliding window, or
/// DeciLMForCausalLM) into a <see cref="ModelConfig"/>.</summary>
internal static class HfConfigReader
{
    public const string Llama = "LlamaForCausalLM";
    public const string DeciLM = "DeciLMForCausalLM";

    /// <summary>Llama's computation under the same weight names, but for attention over a window of
    /// <c>sliding_window</c> tokens (<see cref="CheckNoSlidingWindow"/>); read as a Llama, and a child is written as one.</summary>
    public const string Mistral = "MistralForCausalLM";

    /// <summary>transformers' MistralConfig defaults, which differ from LlamaConfig's (2048 and none): what a
    /// MistralForCausalLM config.json that leaves these fields out means to transformers and vLLM.</summary>
    const int MistralMaxPositions = 4096 * 32, MistralSlidingWindow = 4096;

    public static ModelConfig Parse(string json, string file)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new CheckpointException($"{file}: not valid JSON ({JsonErrors.Describe(e)})", e); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{file}: must be a JSON object");
            var root = new JsonFields(document.RootElement, file);
            var architecture = ReadArchitecture(root);
            var hidden = root.RequiredInt("hidden_size");
            var heads = root.RequiredInt("num_attention_heads");
            var layers = root.RequiredInt("num_hidden_layers");
            if (hidden <= 0 || heads <= 0 || layers <= 0)
                throw new CheckpointException($"{file}: hidden_size, num_attention_heads and num_hidden_layers must be positive");
            CheckSupportedVariant(root);
            var maxPositions = root.OptionalInt("max_position_embeddings") ?? (architecture == Mistral ? MistralMaxPositions : 2048);
            if (architecture == Mistral) CheckNoSlidingWindow(root, maxPositions);
            var (theta, scaling) = ReadRope(root, maxPositions);
            var eos = ReadEos(root);
            var config = new ModelConfig
            {
                VocabSize = root.RequiredInt("vocab_size"),
                HiddenSize = hidden,
                NumAttentionHeads = heads,
                HeadDim = root.OptionalInt("head_dim") ?? hidden / heads,
                Blocks = architecture != DeciLM ? LlamaBlocks(root, heads, layers) : DeciBlocks(root, hidden, heads, layers),
                RmsNormEps = root.OptionalDouble("rms_norm_eps") ?? 1e-6, // transformers' LlamaConfig default
                RopeTheta = theta,
                RopeScaling = scaling,
                TieWordEmbeddings = root.OptionalBool("tie_word_embeddings"),
                MaxPositionEmbeddings = maxPositions,
                BosTokenId = root.OptionalInt("bos_token_id"),
                EosTokenId = eos.Count > 0 ? eos[0] : null,
                MoreEosTokenIds = eos.Skip(1).ToArray(),
            };
            try { config.Validate(); }
            catch (ArgumentException e) { throw new CheckpointException($"{file}: {e.Message}", e); }
            return config;
        }
    }

    static string ReadArchitecture(JsonFields root)
    {
        var list = root.RequiredArray("architectures");
        var architecture = list.Count > 0 && list[0].ValueKind == JsonValueKind.String ? list[0].GetString()! : list.Count == 0 ? "(none)" : list[0].GetRawText();
        if (architecture is not (Llama or Mistral or DeciLM))
            throw new CheckpointException($"{root.File}: unsupported architecture {architecture} in config.json (expected {Llama}, {Mistral} or {DeciLM})");
        var modelType = root.OptionalString("model_type");
        string[] expected = architecture switch { Llama => ["llama"], Mistral => ["mistral"], _ => ["nemotron-nas", "deci"] };
        if (modelType != null && !expected.Contains(modelType))
            throw root.Error("model_type", $"is '{modelType}', which does not go with {architecture} (expected {string.Join(" or ", expected)})");
        return architecture;
    }

    /// <summary>Mistral attends over only the last <c>sliding_window</c> tokens, which the project's attention does not
    /// implement; a window of at least <paramref name="maxPositions"/> tokens never applies, and null (Mistral 7B v0.2
    /// and later) means none, so the model is exactly a Llama. Absent means transformers' default of 4096.</summary>
    static void CheckNoSlidingWindow(JsonFields root, int maxPositions)
    {
        if (root.IsNull("sliding_window")) return;
        var window = root.OptionalInt("sliding_window");
        if (window >= maxPositions) return;
        var what = window is { } w ? $"is {w}" : $"is missing, which transformers' MistralConfig reads as {MistralSlidingWindow}";
        throw root.Error("sliding_window", $"{what}, below max_position_embeddings {maxPositions}: {Mistral} then attends over only the last " +
                                           $"{window ?? MistralSlidingWindow} tokens, and attention over a window is not implemented " +
                                           "(a Mistral with sliding_window null, as v0.2 and later have, is supported)");
    }

    /// <summary>Refuses what the project's Llama block does not compute, instead of loading it subtly wrong.</summary>
    static void CheckSupportedVariant(JsonFields root)
    {
        foreach (var bias in new[] { "attention_bias", "mlp_bias" })
            if (root.OptionalBool(bias)) throw root.Error(bias, "is true; biases are not supported");
        var act = root.OptionalString("hidden_act");
        // transformers' "swish" is the same function as "silu" (both nn.SiLU); the export writes "silu", which vLLM's Llama requires
        if (act is not (null or "silu" or "swish")) throw root.Error("hidden_act", $"is '{act}'; only silu (SwiGLU; 'swish' is the same) is supported");
        // GPTQ, AWQ, bitsandbytes, FP8 (compressed-tensors, fbgemm): weights in other types, with scales beside them
        if (root.Has("quantization_config"))
        {
            var method = root.OptionalObject("quantization_config")?.OptionalString("quant_method");
            throw root.Error("quantization_config", $"says the weights are quantized{(method is null ? "" : $" ({method})")}; " +
                                                    "quantized checkpoints are not supported: give the unquantized model (bfloat16, float16 or float32)");
        }
    }

    static IReadOnlyList<BlockConfig> LlamaBlocks(JsonFields root, int heads, int layers)
    {
        var block = new BlockConfig(
            AttentionConfig.Gqa(root.OptionalInt("num_key_value_heads") ?? heads),
            FfnConfig.SwiGlu(root.RequiredInt("intermediate_size")));
        return Enumerable.Repeat(block, layers).ToArray();
    }

    static IReadOnlyList<BlockConfig> DeciBlocks(JsonFields root, int hidden, int heads, int layers)
    {
        var items = root.RequiredArray("block_configs");
        if (items.Count != layers)
            throw root.Error("block_configs", $"has {items.Count} entries but num_hidden_layers is {layers}");
        var blocks = new BlockConfig[layers];
        for (var i = 0; i < layers; i++)
        {
            var block = root.Item("block_configs", i, items[i]);
            blocks[i] = new BlockConfig(DeciAttention(block.RequiredObject("attention"), heads), DeciFfn(block.RequiredObject("ffn"), hidden));
        }
        return blocks;
    }

    static AttentionConfig DeciAttention(JsonFields attention, int heads)
    {
        var (noOp, linear) = (attention.OptionalBool("no_op"), attention.OptionalBool("replace_with_linear"));
        if (noOp && linear) throw attention.Error("no_op", "and replace_with_linear are both true");
        if (noOp) return AttentionConfig.NoOp;
        if (linear) return AttentionConfig.Linear;
        var group = attention.RequiredInt("n_heads_in_group");
        if (group <= 0 || heads % group != 0)
            throw attention.Error("n_heads_in_group", $"is {group}, which does not divide num_attention_heads {heads}");
        return AttentionConfig.Gqa(heads / group);
    }

    static FfnConfig DeciFfn(JsonFields ffn, int hidden)
    {
        var (noOp, linear) = (ffn.OptionalBool("no_op"), ffn.OptionalBool("replace_with_linear"));
        if (noOp && linear) throw ffn.Error("no_op", "and replace_with_linear are both true");
        if (noOp) return FfnConfig.NoOp;
        if (linear) return FfnConfig.Linear;
        var width = ffn.OptionalInt("intermediate_size");
        var mult = ffn.OptionalDouble("ffn_mult");
        if (mult is null)
            return FfnConfig.SwiGlu(width ?? throw ffn.Error("ffn_mult", "and intermediate_size are both missing; one gives the FFN width"));
        if (mult <= 0) throw ffn.Error("ffn_mult", $"must be positive, got {mult}");
        // vLLM prefers ffn_mult when both are present; a disagreeing pair would build different models in different runtimes
        var fromMult = DeciFfnSizing.IntermediateSize(mult.Value, hidden);
        if (width is not null && width != fromMult)
            throw ffn.Error("ffn_mult", $"{mult} gives width {fromMult} but intermediate_size says {width}");
        return FfnConfig.SwiGlu(fromMult);
    }

    static (double Theta, RopeScaling? Scaling) ReadRope(JsonFields root, int maxPositions)
    {
        CheckFullRotation(root);
        if (root.OptionalObject("rope_parameters") is { } parameters) // transformers 5 style
        {
            CheckFullRotation(parameters);
            var theta = parameters.OptionalDouble("rope_theta") ?? root.OptionalDouble("rope_theta") ?? 10000;
            return (theta, ReadScaling(parameters, maxPositions));
        }
        var scaling = root.OptionalObject("rope_scaling");
        return (root.OptionalDouble("rope_theta") ?? 10000, scaling is { } s ? ReadScaling(s, maxPositions) : null);
    }

    /// <summary>transformers and vLLM rotate only <c>partial_rotary_factor</c> of each head's dimensions; the project's
    /// RoPE rotates all of them, so any other factor would compute another model.</summary>
    static void CheckFullRotation(JsonFields fields)
    {
        if (fields.OptionalDouble("partial_rotary_factor") is { } factor && factor != 1)
            throw fields.Error("partial_rotary_factor", $"is {factor}; only RoPE over the whole head (1.0) is supported");
    }

    const string SupportedScaling = "default, linear, dynamic, yarn, llama3";

    static RopeScaling? ReadScaling(JsonFields rope, int maxPositions)
    {
        var type = rope.OptionalString("rope_type") ?? rope.OptionalString("type");
        // scaling settings without their kind (a factor alone): transformers cannot build such a model, and reading it
        // as no scaling would drop the factor without a word
        if (type is null && rope.Names.FirstOrDefault(n => n is not ("rope_theta" or "partial_rotary_factor")) is { } setting)
            throw rope.Error("rope_type", $"is missing, but '{rope.PathOf(setting)}' is set; say which scaling it is (supported: {SupportedScaling})");
        return (type ?? "default") switch
        {
            "default" => null,
            "llama3" => new RopeScaling("llama3",
                rope.RequiredDouble("factor"), rope.RequiredDouble("low_freq_factor"), rope.RequiredDouble("high_freq_factor"),
                rope.RequiredInt("original_max_position_embeddings")),
            "linear" or "dynamic" => new RopeScaling(type!, Factor(rope)),
            "yarn" => ReadYarn(rope, maxPositions),
            _ => throw rope.Error(rope.Has("rope_type") ? "rope_type" : "type", $"is '{type}'; supported: {SupportedScaling}"),
        };
    }

    static double Factor(JsonFields rope) =>
        rope.RequiredDouble("factor") is var factor && factor >= 1 ? factor : throw rope.Error("factor", $"must be at least 1, got {factor}");

    /// <summary>yarn's settings as transformers reads them. Where original_max_position_embeddings is stated, transformers
    /// scales by max_position_embeddings over it and vLLM by <c>factor</c>: a config whose two disagree would compute
    /// different models in the two, so it is refused.</summary>
    static RopeScaling ReadYarn(JsonFields rope, int maxPositions)
    {
        var factor = Factor(rope);
        var original = rope.OptionalInt("original_max_position_embeddings");
        if (original is { } o && (o <= 0 || Math.Abs(maxPositions / (double)o - factor) > 1e-9 * factor))
            throw rope.Error("factor", $"is {factor}, but max_position_embeddings {maxPositions:N0} over original_max_position_embeddings {o:N0} is " +
                                       $"{maxPositions / (double)o:0.###}: transformers scales by the latter, vLLM by the former; make them agree");
        return new RopeScaling("yarn", factor, OriginalMaxPositionEmbeddings: original)
        {
            AttentionFactor = rope.OptionalDouble("attention_factor"),
            BetaFast = rope.OptionalDouble("beta_fast"),
            BetaSlow = rope.OptionalDouble("beta_slow"),
            Mscale = rope.OptionalDouble("mscale"),
            MscaleAllDim = rope.OptionalDouble("mscale_all_dim"),
            Truncate = rope.Has("truncate") ? rope.OptionalBool("truncate") : null,
        };
    }

    /// <summary>eos_token_id as written: one id, or a list of them (none: empty).</summary>
    static List<int> ReadEos(JsonFields root)
    {
        if (!root.TryGet("eos_token_id", out var value) || value.ValueKind != JsonValueKind.Array)
            return root.OptionalInt("eos_token_id") is { } one ? [one] : [];
        return value.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out var id)
            ? id
            : throw root.Error("eos_token_id", $"must hold integers, got {value.GetRawText()}")).ToList();
    }
}
