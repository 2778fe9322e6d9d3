using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Model;
using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>Opens and saves Hugging Face model folders: config.json, weights (safetensors, or PyTorch .bin to open), generation_config.json.</summary>
public static class Checkpoint
{
    public const string GenerationConfigFileName = "generation_config.json";
    public const string TokenizerFileName = "tokenizer.json";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// Reads config.json and opens the weights lazily, having checked every tensor's name and shape against the
    /// config: what comes back is usable as a whole, or a <see cref="CheckpointException"/> says what is wrong.
    /// The caller disposes the tensors.
    /// </summary>
    public static (ModelConfig Config, CheckpointTensors Tensors) Open(string directory)
    {
        if (!Directory.Exists(directory)) throw new CheckpointException($"{directory}: no such checkpoint folder");
        var config = HfConfig.Read(directory);
        ReadGenerationConfig(directory); // served with the model: a broken one fails here, not at export
        var tensors = CheckpointTensors.Open(directory);
        try
        {
            CheckpointValidator.Validate(config, tensors, directory);
            return (config, tensors);
        }
        catch
        {
            tensors.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Saves a complete model to <paramref name="directory"/>, replacing what is there only once the new folder is
    /// fully written. Weights go to one <c>model.safetensors</c>, or to shards with an index when they exceed
    /// <paramref name="maxShardBytes"/>. <paramref name="tokenizerPath"/>, when given, is copied as tokenizer.json;
    /// <paramref name="extraFiles"/> (file name → text) are written beside it and <paramref name="copiedFiles"/> (path
    /// in the folder, '/' between its parts → file) copied byte for byte, all published in the same rename (a
    /// config.json or generation_config.json among them replaces the one made from <paramref name="config"/>).
    /// </summary>
    public static void Save(string directory, ModelConfig config, IReadOnlyDictionary<string, torch.Tensor> tensors,
        CheckpointFormat format = CheckpointFormat.Auto, TensorDType dtype = TensorDType.F32, long? maxShardBytes = null,
        string? tokenizerPath = null, IReadOnlyDictionary<string, string>? extraFiles = null,
        IReadOnlyDictionary<string, string>? copiedFiles = null)
    {
        if (maxShardBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "must be positive");
        var configJson = HfConfig.ToJson(config, format, dtype);
        CheckpointValidator.Validate(config, new TensorDictionarySource(tensors), directory);
        if (tokenizerPath != null && !File.Exists(tokenizerPath))
            throw new CheckpointException($"{tokenizerPath}: tokenizer file not found");
        AtomicDirectory.Publish(directory, staging =>
        {
            File.WriteAllText(Path.Combine(staging, HfConfig.FileName), configJson);
            File.WriteAllText(Path.Combine(staging, GenerationConfigFileName), GenerationConfigJson(config));
            WriteWeights(staging, config, tensors.ContainsKey, n => tensors[n].numel(),
                (path, names) => SafeTensorsWriter.Write(path, Subset(tensors, names), dtype), dtype, maxShardBytes);
            WriteBeside(staging, config, format, tokenizerPath, extraFiles, copiedFiles);
        });
    }

    /// <summary>
    /// <see cref="Save(string, ModelConfig, IReadOnlyDictionary{string, torch.Tensor}, CheckpointFormat, TensorDType, long?, string?, IReadOnlyDictionary{string, string}?, IReadOnlyDictionary{string, string}?)"/>
    /// from a tensor source read one tensor at a time (e.g. another checkpoint converted to another dtype), so the
    /// model never has to fit in memory. Extra weights the configuration has no place for are an error, as on load.
    /// </summary>
    public static void Save(string directory, ModelConfig config, ITensorSource source,
        CheckpointFormat format = CheckpointFormat.Auto, TensorDType dtype = TensorDType.F32, long? maxShardBytes = null,
        string? tokenizerPath = null, IReadOnlyDictionary<string, string>? extraFiles = null,
        IReadOnlyDictionary<string, string>? copiedFiles = null)
    {
        if (maxShardBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "must be positive");
        var configJson = HfConfig.ToJson(config, format, dtype);
        CheckpointValidator.Validate(config, source, directory);
        if (tokenizerPath != null && !File.Exists(tokenizerPath))
            throw new CheckpointException($"{tokenizerPath}: tokenizer file not found");
        AtomicDirectory.Publish(directory, staging =>
        {
            File.WriteAllText(Path.Combine(staging, HfConfig.FileName), configJson);
            File.WriteAllText(Path.Combine(staging, GenerationConfigFileName), GenerationConfigJson(config));
            WriteWeights(staging, config, source.Contains, n => source.Info(n).ElementCount,
                (path, names) => SafeTensorsWriter.Write(path, source, names, dtype), dtype, maxShardBytes);
            WriteBeside(staging, config, format, tokenizerPath, extraFiles, copiedFiles);
        });
    }

    /// <summary>What goes beside the weights: the tokenizer, the DeciLM configuration code a nemotron-nas config.json
    /// names, the extra files' text, and the copied files as they are (a tokenizer.model is binary; a template's bytes
    /// are the template).</summary>
    static void WriteBeside(string staging, ModelConfig config, CheckpointFormat format, string? tokenizerPath,
        IReadOnlyDictionary<string, string>? extraFiles, IReadOnlyDictionary<string, string>? copiedFiles)
    {
        if (tokenizerPath != null) File.Copy(tokenizerPath, Path.Combine(staging, TokenizerFileName));
        if (HfConfigWriter.Resolve(config, format) == CheckpointFormat.NemotronNas) // its config.json's auto_map names this file
            File.WriteAllText(Path.Combine(staging, DeciLMConfigCode.FileName), DeciLMConfigCode.Text);
        foreach (var (name, text) in extraFiles ?? new Dictionary<string, string>())
            File.WriteAllText(Path.Combine(staging, name), text);
        foreach (var (name, from) in copiedFiles ?? new Dictionary<string, string>())
        {
            var to = Path.Combine(staging, name.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to, overwrite: true);
        }
    }

    static void WriteWeights(string directory, ModelConfig config, Func<string, bool> has, Func<string, long> elementsOf,
        Func<string, List<string>, long> writeFile, TensorDType dtype, long? maxShardBytes)
    {
        // model order keeps one layer's tensors together, so reading a block opens one shard
        var names = CheckpointValidator.ExpectedShapes(config).Keys.Where(has).ToList();
        var shards = PlanShards(names, n => elementsOf(n) * dtype.ByteSize(), maxShardBytes ?? long.MaxValue);
        if (shards.Count == 1)
        {
            writeFile(Path.Combine(directory, CheckpointTensors.SingleFileName), shards[0]);
            return;
        }
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long totalBytes = 0;
        for (var i = 0; i < shards.Count; i++)
        {
            var file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            totalBytes += writeFile(Path.Combine(directory, file), shards[i]);
            foreach (var name in shards[i]) weightMap[name] = file;
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["total_parameters"] = names.Sum(elementsOf),
                ["total_size"] = totalBytes,
            },
            ["weight_map"] = new JsonObject(weightMap.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
        };
        File.WriteAllText(Path.Combine(directory, CheckpointTensors.IndexFileName), index.ToJsonString(Indented) + "\n");
    }

    /// <summary>Greedy, in order: a shard takes tensors until the next would push it past the limit (a lone oversized tensor gets its own shard).</summary>
    internal static List<List<string>> PlanShards(IReadOnlyList<string> names, Func<string, long> bytesOf, long maxShardBytes)
    {
        var shards = new List<List<string>> { new() };
        long current = 0;
        foreach (var name in names)
        {
            var bytes = bytesOf(name);
            if (shards[^1].Count > 0 && current + bytes > maxShardBytes)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(name);
            current += bytes;
        }
        return shards;
    }

    static Dictionary<string, torch.Tensor> Subset(IReadOnlyDictionary<string, torch.Tensor> tensors, List<string> names) =>
        names.ToDictionary(n => n, n => tensors[n], StringComparer.Ordinal);

    /// <summary>
    /// generation_config.json for a model made from the one in <paramref name="sourceDirectory"/>: that folder's own
    /// file as it is (a parent's sampling defaults and end-of-turn ids, which transformers and vLLM apply when serving),
    /// with BOS/EOS from <paramref name="config"/> only where it gives none; without such a file, one from the config.
    /// </summary>
    public static string GenerationConfigJson(ModelConfig config, string? sourceDirectory = null)
    {
        var result = sourceDirectory is null ? null : ReadGenerationConfig(sourceDirectory);
        if (result is null) result = new JsonObject { ["_from_model_config"] = true };
        result["bos_token_id"] ??= config.BosTokenId;
        result["eos_token_id"] ??= HfConfigWriter.Eos(config);
        return result.ToJsonString(Indented) + "\n";
    }

    /// <summary>The folder's generation_config.json, or null without one; anything but a JSON object is an error naming the
    /// file. Read as JSON, not as a record: it goes on as it is, with every field the parent's has (top_k,
    /// repetition_penalty, a runtime's own), which a record would drop.</summary>
    public static JsonObject? ReadGenerationConfig(string directory)
    {
        var path = Path.Combine(directory, GenerationConfigFileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new CheckpointException($"{path}: must be a JSON object");
        }
        catch (JsonException e) { throw new CheckpointException($"{path}: not valid JSON ({JsonErrors.Describe(e)})", e); }
    }
}
