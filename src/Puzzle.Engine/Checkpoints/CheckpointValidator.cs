using Puzzle.Engine.Model;
using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// The tensors a <see cref="ModelConfig"/> needs, by Hugging Face name and shape, and the check that a checkpoint
/// has exactly those. GQA and SwiGLU weights carry the Llama names, as vLLM's nemotron_nas.py loads them. A linear
/// replacement is one hidden×hidden weight named as in NVIDIA's DeciLM code: TensorRT-LLM's
/// <c>_torch/models/modeling_nemotron_nas.py</c> (<c>LinearAttention.linear_attn</c>, <c>LinearMLP.linear_mlp</c>) and
/// NeMo AutoModel's DeciLM port ("matches HF checkpoint key self_attn.linear_attn"). A no-op sub-block has no weights
/// and no norm.
/// </summary>
public static class CheckpointValidator
{
    /// <summary>Every tensor name the model needs with its shape, in model order (embedding, layers, norm, head).</summary>
    public static IReadOnlyDictionary<string, long[]> ExpectedShapes(ModelConfig config)
    {
        long hidden = config.HiddenSize, vocab = config.VocabSize, headDim = config.HeadDim;
        var shapes = new Dictionary<string, long[]> { ["model.embed_tokens.weight"] = [vocab, hidden] };
        for (var i = 0; i < config.NumLayers; i++)
        {
            var layer = $"model.layers.{i}";
            var block = config.Blocks[i];
            switch (block.Attention.Kind)
            {
                case AttentionKind.Gqa:
                    long q = config.NumAttentionHeads * headDim, kv = block.Attention.KvHeads * headDim;
                    shapes[$"{layer}.input_layernorm.weight"] = [hidden];
                    shapes[$"{layer}.self_attn.q_proj.weight"] = [q, hidden];
                    shapes[$"{layer}.self_attn.k_proj.weight"] = [kv, hidden];
                    shapes[$"{layer}.self_attn.v_proj.weight"] = [kv, hidden];
                    shapes[$"{layer}.self_attn.o_proj.weight"] = [hidden, q];
                    break;
                case AttentionKind.Linear:
                    shapes[$"{layer}.input_layernorm.weight"] = [hidden];
                    shapes[$"{layer}.self_attn.linear_attn.weight"] = [hidden, hidden];
                    break;
            }
            switch (block.Ffn.Kind)
            {
                case FfnKind.SwiGlu:
                    long width = block.Ffn.IntermediateSize;
                    shapes[$"{layer}.post_attention_layernorm.weight"] = [hidden];
                    shapes[$"{layer}.mlp.gate_proj.weight"] = [width, hidden];
                    shapes[$"{layer}.mlp.up_proj.weight"] = [width, hidden];
                    shapes[$"{layer}.mlp.down_proj.weight"] = [hidden, width];
                    break;
                case FfnKind.Linear:
                    shapes[$"{layer}.post_attention_layernorm.weight"] = [hidden];
                    shapes[$"{layer}.mlp.linear_mlp.weight"] = [hidden, hidden];
                    break;
            }
        }
        shapes["model.norm.weight"] = [hidden];
        if (!config.TieWordEmbeddings) shapes["lm_head.weight"] = [vocab, hidden];
        return shapes;
    }

    /// <summary>
    /// Throws <see cref="CheckpointException"/> when a needed tensor is missing, has another shape, or when the source
    /// holds a weight the configuration has no place for (which would be silently ignored otherwise).
    /// </summary>
    public static void Validate(ModelConfig config, ITensorSource source, string directory)
    {
        var expected = ExpectedShapes(config);
        foreach (var (name, shape) in expected)
        {
            if (!source.Contains(name))
                throw new CheckpointException(
                    $"{directory}: tensor '{name}' {TensorInfo.FormatShape(shape)} is missing; {HfConfig.FileName} ({Describe(config, name)}) needs it{WhyMissing(config, source, name)}");
            var found = source.Info(name).Shape;
            if (!found.SequenceEqual(shape))
                throw new CheckpointException(
                    $"{FileOf(source, name, directory)}: tensor '{name}' has shape {TensorInfo.FormatShape(found)} but {HfConfig.FileName} ({Describe(config, name)}) needs {TensorInfo.FormatShape(shape)}");
        }
        foreach (var name in source.Names)
        {
            if (expected.ContainsKey(name) || IsHarmlessExtra(name, config)) continue;
            throw new CheckpointException(
                $"{FileOf(source, name, directory)}: tensor '{name}' has no place in the model {HfConfig.FileName} describes; the config and the weights disagree");
        }
    }

    /// <summary>
    /// Reads every weight the model needs, one at a time as stored (its bits checked at memory speed), and throws <see cref="CheckpointException"/>
    /// naming the first that holds NaN or infinity (a fine-tune saved after it diverged): every loss and score computed
    /// from such a parent would be NaN, far from the cause. Returns the bytes read.
    /// </summary>
    public static long CheckFinite(ModelConfig config, CheckpointTensors tensors)
    {
        long bytes = 0;
        foreach (var group in ExpectedShapes(config).Keys.GroupBy(tensors.FileOf))
            foreach (var name in group)
            {
                using var scope = torch.NewDisposeScope();
                var tensor = group.Key.ReadStored(name);
                bytes += group.Key.Info(name).ByteCount;
                var bad = TensorBytes.NonFinite(tensor);
                if (bad > 0)
                    throw new CheckpointException($"{group.Key.Path}: tensor '{name}' holds {bad} NaN or infinite value{(bad == 1 ? "" : "s")} " +
                                                  $"of {tensor.numel()}; every loss computed from this parent would be NaN. Use a checkpoint saved before it diverged.");
            }
        return bytes;
    }

    /// <summary>
    /// What a missing tensor's error adds where the folder suggests why: the same weight under another prefix (saved from
    /// the base model without <c>model.</c>, or wrapped once more: <c>model.model.</c>, PEFT's <c>base_model.model.</c>),
    /// an untied head, or shards beside a <c>model.safetensors</c> (<c>pytorch_model.bin</c>) that is read instead of them.
    /// </summary>
    static string WhyMissing(ModelConfig config, ITensorSource source, string name)
    {
        const string prefix = "model.";
        var core = name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : name;
        var expected = ExpectedShapes(config);
        var other = source.Names.Where(n => !expected.ContainsKey(n) && (n == core || n.EndsWith("." + core, StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal).FirstOrDefault();
        if (other is not null)
            return $"; the weights hold '{other}', the same weight under another prefix: LlamaForCausalLM names it '{name}'";
        if (source is CheckpointTensors { UnreadIndex: { } index } tensors)
            return $"; {Path.GetFileName(tensors.Files[0].Path)} is read, as transformers reads it where both are, and the shards {Path.GetFileName(index)} " +
                   "lists are not: remove whichever of the two is stale";
        if (name == "lm_head.weight")
            return "; tie_word_embeddings is false or absent, so the head is a weight of its own (a model whose head is its embedding " +
                   "says tie_word_embeddings: true)";
        return "";
    }

    /// <summary>Rotary caches some exporters save, and an lm_head kept beside tied embeddings, are ignored by loaders.</summary>
    static bool IsHarmlessExtra(string name, ModelConfig config) =>
        name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || (config.TieWordEmbeddings && name == "lm_head.weight");

    /// <summary>The config.json fields a tensor's shape comes from, with their values: a q_proj made for other heads
    /// or another head_dim says which field to compare, where the block's short name (gqa8/swiglu14336) did not.</summary>
    static string Describe(ModelConfig config, string name)
    {
        const string prefix = "model.layers.";
        var hidden = $"hidden_size {config.HiddenSize}";
        if (!name.StartsWith(prefix, StringComparison.Ordinal))
            return name == "model.norm.weight" ? hidden : $"vocab_size {config.VocabSize}, {hidden}";
        var dot = name.IndexOf('.', prefix.Length);
        var index = int.Parse(name.AsSpan(prefix.Length, dot - prefix.Length));
        var block = config.Blocks[index];
        var fields = name[(dot + 1)..] switch
        {
            "self_attn.q_proj.weight" or "self_attn.o_proj.weight" => $"num_attention_heads {config.NumAttentionHeads} × head_dim {config.HeadDim}, {hidden}",
            "self_attn.k_proj.weight" or "self_attn.v_proj.weight" => $"{block.Attention.KvHeads} key-value head{(block.Attention.KvHeads == 1 ? "" : "s")} × head_dim {config.HeadDim}, {hidden}",
            "mlp.gate_proj.weight" or "mlp.up_proj.weight" or "mlp.down_proj.weight" => $"intermediate_size {block.Ffn.IntermediateSize}, {hidden}",
            _ => hidden,
        };
        return $"layer {index}: {fields}";
    }

    static string FileOf(ITensorSource source, string name, string directory) =>
        source is CheckpointTensors checkpoint ? checkpoint.FileOf(name).Path
        : source is ITensorFile file ? file.Path
        : directory;
}
