using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;

namespace Puzzle.Engine.Export;

/// <summary>What an export wrote.</summary>
public sealed record ExportResult(CheckpointFormat Format, TensorDType DType, ModelConfig Config, long Parameters, long WeightBytes, double Seconds);

/// <summary>
/// Writes a trained child as a Hugging Face folder a serving engine loads: config.json (plain Llama when every layer
/// is the same GQA + SwiGLU shape and the spec allows it, else nemotron-nas with <c>block_configs</c>), safetensors in
/// the requested type under the names vLLM's loader expects (sharded above 5 GB as transformers does),
/// tokenizer.json with a tokenizer_config.json, the parent's tokenizer files and chat templates where it has them
/// (<see cref="ParentFiles"/>), generation_config.json and a model card. Reads one tensor at a time,
/// checks the target runtime can serve the child before writing, and publishes the folder in one rename.
/// </summary>
public static class ChildExporter
{
    /// <summary>transformers' default <c>max_shard_size</c>.</summary>
    public const long MaxShardBytes = 5_000_000_000;
    public const string TokenizerConfigFileName = "tokenizer_config.json";

    /// <summary>The parent's files a tokenizer or server reads beside tokenizer.json and tokenizer_config.json, carried
    /// byte for byte: the chat template as transformers saves it since 4.47 (its own file, no longer inside
    /// tokenizer_config.json; vLLM's chat endpoint refuses a model without a template), the special tokens' map, the
    /// SentencePiece model Llama 2 and Mistral folders ship beside or instead of tokenizer.json (a slow tokenizer loads
    /// only it, and converters such as llama.cpp's read it) and the added tokens a slow tokenizer appends to it.</summary>
    public static readonly string[] ParentTokenizerFiles = ["chat_template.jinja", "special_tokens_map.json", "tokenizer.model", "added_tokens.json"];

    /// <summary>The folder transformers saves a tokenizer's further named chat templates in (one .jinja each, beside
    /// chat_template.jinja); <c>apply_chat_template(chat_template="tool_use")</c> reads them from it. Carried whole.</summary>
    public const string ChatTemplatesFolder = "additional_chat_templates";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    static readonly JsonSerializerOptions AsWritten = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="parentDirectory">the folder whose generation_config.json (its sampling defaults and stop ids),
    /// config.json's pad_token_id and <see cref="ParentFiles"/> go with the child: the parent's; by default the model's own</param>
    public static ExportResult Export(string modelDirectory, string destination, ExportOptions options, ModelCardContext context,
        string? parentDirectory = null)
    {
        var clock = Stopwatch.StartNew();
        var (config, tensors) = Checkpoint.Open(modelDirectory);
        using (tensors)
        {
            var format = ResolveFormat(config, options.Format, modelDirectory);
            var problems = RuntimeSupport.Problems(config, options.Runtime);
            if (problems.Count > 0)
                throw new ExportException($"{modelDirectory}: export.runtime {RuntimeSupport.Name(options.Runtime)} cannot serve this child:\n  " +
                                          string.Join("\n  ", problems) +
                                          "\nSet export.runtime: any, or keep such blocks out of the search (search_space.attention.linear and search_space.ffn.linear: false).");
            var tokenizer = Path.Combine(modelDirectory, Checkpoint.TokenizerFileName);
            if (!File.Exists(tokenizer))
                throw new ExportException($"{modelDirectory}: no {Checkpoint.TokenizerFileName}; a served model needs its tokenizer");
            var dtype = DTypeOf(options.DType);
            var parent = parentDirectory ?? modelDirectory;
            var extra = new Dictionary<string, string>
            {
                [HfConfig.FileName] = ConfigJson(config, format, dtype, parent),
                [TokenizerConfigFileName] = TokenizerConfig(modelDirectory, tokenizer, config),
                [ModelCard.FileName] = ModelCard.Render(config, format, dtype, options.Runtime, context),
                [Checkpoint.GenerationConfigFileName] = Checkpoint.GenerationConfigJson(config, parent),
            };
            var source = dtype == TensorDType.F16 ? new Float16RangeCheck(tensors) : (ITensorSource)tensors;
            Checkpoint.Save(destination, config, source, format, dtype, MaxShardBytes, tokenizer, extra, ParentFiles(parent));
            var shapes = CheckpointValidator.ExpectedShapes(config).Values;
            var parameters = shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b));
            return new ExportResult(format, dtype, config, parameters, parameters * dtype.ByteSize(), clock.Elapsed.TotalSeconds);
        }
    }

    /// <summary>The parent's files an export carries, path in the folder ('/' between its parts) → file:
    /// <see cref="ParentTokenizerFiles"/> it has and everything in its <see cref="ChatTemplatesFolder"/>. The Parent
    /// job's key hashes the folder's files and <see cref="TemplateFiles"/>, so a changed one exports again.</summary>
    public static IReadOnlyDictionary<string, string> ParentFiles(string parentDirectory)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in ParentTokenizerFiles.Where(n => File.Exists(Path.Combine(parentDirectory, n))))
            files[name] = Path.Combine(parentDirectory, name);
        foreach (var (name, path) in TemplateFiles(parentDirectory)) files[name] = path;
        return files;
    }

    /// <summary>The files in <paramref name="parentDirectory"/>'s <see cref="ChatTemplatesFolder"/>, at any depth, as
    /// (path in the parent folder with '/' between its parts, file); none without the folder.</summary>
    public static IEnumerable<(string Name, string Path)> TemplateFiles(string parentDirectory)
    {
        var folder = Path.Combine(parentDirectory, ChatTemplatesFolder);
        return Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                .Select(f => (Path.GetRelativePath(parentDirectory, f).Replace(Path.DirectorySeparatorChar, '/'), f))
                .OrderBy(f => f.Item1, StringComparer.Ordinal)
            : [];
    }

    /// <summary>
    /// The child's config.json, with the parent's <c>pad_token_id</c> where the parent's config.json names one
    /// (fine-tunes and instruct models often do: transformers' Llama takes its embedding's padding_idx from it, and code
    /// that pads a batch reads <c>model.config.pad_token_id</c>). BOS and EOS are the parent's already, EOS as the list
    /// where it lists several: a child's configuration is the parent's with other blocks.
    /// </summary>
    static string ConfigJson(ModelConfig config, CheckpointFormat format, TensorDType dtype, string parentDirectory)
    {
        var json = HfConfig.ToJson(config, format, dtype);
        var path = Path.Combine(parentDirectory, HfConfig.FileName);
        if (!File.Exists(path)) return json;
        JsonNode? pad;
        try { pad = (JsonNode.Parse(File.ReadAllText(path)) as JsonObject)?["pad_token_id"]; }
        catch (JsonException e) { throw new ExportException($"{path}: not valid JSON ({JsonErrors.Describe(e)})", e); }
        if (pad is null) return json; // absent or null: transformers' default, as the model's config.json leaves it
        if (pad.GetValueKind() != JsonValueKind.Number || !long.TryParse(pad.ToJsonString(), out _))
            throw new ExportException($"{path}: pad_token_id must be a token id (an integer) or null, found {pad.ToJsonString(AsWritten)}");
        var fields = JsonNode.Parse(json)!.AsObject();
        fields["pad_token_id"] = pad.DeepClone();
        // in the key order the rest of config.json is written in
        var sorted = new JsonObject(fields.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
        return sorted.ToJsonString(Indented) + "\n";
    }

    /// <summary>auto: Llama for a homogeneous child, nemotron-nas otherwise; llama for a heterogeneous child is an error.</summary>
    public static CheckpointFormat ResolveFormat(ModelConfig config, ExportFormat requested, string source)
    {
        switch (requested)
        {
            case ExportFormat.NemotronNas: return CheckpointFormat.NemotronNas;
            case ExportFormat.Auto: return config.IsHomogeneous ? CheckpointFormat.Llama : CheckpointFormat.NemotronNas;
            default:
                if (config.IsHomogeneous) return CheckpointFormat.Llama;
                var kinds = config.Blocks.Select((b, i) => (b, i)).GroupBy(p => p.b.ToString())
                    .Select(g => $"{g.Key} in layer{(g.Count() > 1 ? "s" : "")} {string.Join(", ", g.Select(p => p.i))}");
                throw new ExportException($"{source}: export.format llama needs every layer to be the same GQA + SwiGLU block, but this child has " +
                                          $"{string.Join("; ", kinds)}. Use export.format nemotron-nas or auto.");
        }
    }

    public static TensorDType DTypeOf(ExportDType dtype) => dtype switch
    {
        ExportDType.Bfloat16 => TensorDType.BF16,
        ExportDType.Float16 => TensorDType.F16,
        _ => TensorDType.F32,
    };

    /// <summary>The model's own tokenizer_config.json when it has one, else one that loads tokenizer.json as a fast tokenizer with its BOS/EOS.</summary>
    static string TokenizerConfig(string modelDirectory, string tokenizerPath, ModelConfig config)
    {
        var own = Path.Combine(modelDirectory, TokenizerConfigFileName);
        if (File.Exists(own))
        {
            // the model's own settings, but a length the model can take: a tokenizer trained here says 1e9 (no limit)
            var mine = JsonNode.Parse(File.ReadAllText(own)) as JsonObject
                       ?? throw new ExportException($"{own}: not a JSON object");
            mine["model_max_length"] = config.MaxPositionEmbeddings;
            return mine.ToJsonString(Indented) + "\n";
        }
        var names = new Dictionary<int, string>();
        try
        {
            if (JsonNode.Parse(File.ReadAllText(tokenizerPath))?["added_tokens"] is JsonArray added)
                foreach (var token in added.OfType<JsonObject>())
                    if (token["id"]?.GetValue<int>() is { } id && token["content"]?.GetValue<string>() is { } content) names[id] = content;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new ExportException($"{tokenizerPath}: not a readable tokenizer.json ({e.Message})", e);
        }
        var result = new JsonObject { ["tokenizer_class"] = "PreTrainedTokenizerFast" };
        if (config.BosTokenId is { } bos && names.TryGetValue(bos, out var bosText)) result["bos_token"] = bosText;
        if (config.EosTokenId is { } eos && names.TryGetValue(eos, out var eosText)) result["eos_token"] = eosText;
        result["add_bos_token"] = config.BosTokenId is not null;
        result["add_eos_token"] = false;
        result["clean_up_tokenization_spaces"] = false;
        result["model_max_length"] = config.MaxPositionEmbeddings;
        return result.ToJsonString(Indented) + "\n";
    }

    /// <summary>float16 tops out at 65504: a weight beyond it would load as infinity, so say which tensor instead.</summary>
    sealed class Float16RangeCheck(ITensorSource inner) : ITensorSource
    {
        const float Max = 65504f;
        public IReadOnlyCollection<string> Names => inner.Names;
        public bool Contains(string name) => inner.Contains(name);
        public TensorInfo Info(string name) => inner.Info(name);

        public TorchSharp.torch.Tensor Read(string name)
        {
            var tensor = inner.Read(name);
            using var largest = tensor.abs().max();
            var value = largest.item<float>();
            if (value <= Max) return tensor;
            tensor.Dispose();
            throw new ExportException($"tensor '{name}' holds {value:G6}, beyond float16's largest value {Max}; export.dtype float16 would make it infinite. Use bfloat16 or float32.");
        }
    }
}
