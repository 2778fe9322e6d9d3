using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;

namespace Puzzle.Engine.Tests.Cli;

/// <summary>Parent folders as a user brings them, for the front ends' tests.</summary>
public static class TestParents
{
    /// <summary>The tiny fixture parent (config, sharded weights, tokenizer) copied to <paramref name="to"/>.</summary>
    public static void Tiny(string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(Fixtures.HfLlamaTiny).Where(f => !f.EndsWith("reference.json", StringComparison.Ordinal)))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    /// <summary>The folder's config.json rewritten as Mistral 7B v0.3 writes its own (<see cref="AsMistral"/>).</summary>
    public static void Mistral(string folder)
    {
        var path = Path.Combine(folder, HfConfig.FileName);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        AsMistral(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    /// <summary>A Llama config.json as a MistralForCausalLM: its architecture and model_type, RoPE without scaling
    /// (rope_theta at the top, as Mistral's configs give it) and sliding_window null (no window, as from v0.2 on).</summary>
    public static void AsMistral(System.Text.Json.Nodes.JsonObject json)
    {
        json["architectures"] = new System.Text.Json.Nodes.JsonArray("MistralForCausalLM");
        json["model_type"] = "mistral";
        foreach (var llamaOnly in new[] { "rope_parameters", "rope_scaling", "attention_bias", "mlp_bias", "pretraining_tp" }) json.Remove(llamaOnly);
        json["rope_theta"] = 1000000.0;
        json["sliding_window"] = null;
    }

    /// <summary>The folder's tokenizer.json (the fixture's) with BOS and EOS named as DeepSeek-R1-Distill-Llama's (a
    /// LlamaForCausalLM) are: none of the usual names, so only a tokenizer_config.json can say which they are.</summary>
    public static void DeepSeekStyleTokenizer(string folder) =>
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), File.ReadAllText(Path.Combine(folder, "tokenizer.json"))
            .Replace("\"<s>\"", "\"<｜begin▁of▁sentence｜>\"").Replace("\"</s>\"", "\"<｜end▁of▁sentence｜>\""));

    /// <summary>A parent folder as a user brings it, at any size: <paramref name="config"/>'s config.json, weights whose
    /// header names every tensor (<see cref="HeaderOnlyWeights"/>) and the fixture's tokenizer (ids up to 31,999).</summary>
    public static void HeaderOnly(ModelConfig config, string folder)
    {
        HfConfig.Write(config, folder);
        HeaderOnlyWeights(config, Path.Combine(folder, "model.safetensors"));
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"), Path.Combine(folder, "tokenizer.json"));
    }

    /// <summary>A bfloat16 safetensors file with every tensor <paramref name="config"/> needs in its header and a hole
    /// for their bytes: what init checks (names, shapes, offsets) at a real size, without gigabytes on disk.</summary>
    public static void HeaderOnlyWeights(ModelConfig config, string path)
    {
        var header = new System.Text.Json.Nodes.JsonObject();
        long offset = 0;
        foreach (var (name, shape) in CheckpointValidator.ExpectedShapes(config))
        {
            var bytes = shape.Aggregate(2L, (a, b) => a * b);
            header[name] = new System.Text.Json.Nodes.JsonObject
            {
                ["dtype"] = "BF16",
                ["shape"] = new System.Text.Json.Nodes.JsonArray(shape.Select(d => (System.Text.Json.Nodes.JsonNode)d).ToArray()),
                ["data_offsets"] = new System.Text.Json.Nodes.JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        var padded = (json.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((ulong)padded));
        file.Write(json);
        file.Write(System.Text.Encoding.ASCII.GetBytes(new string(' ', padded - json.Length)));
        file.SetLength(8 + padded + offset);
    }
}
