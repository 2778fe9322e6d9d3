using Puzzle.Engine.Model;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Hugging Face <c>config.json</c> ⇄ <see cref="ModelConfig"/>. Reads LlamaForCausalLM (RoPE as top-level
/// <c>rope_theta</c> + <c>rope_scaling</c>, or transformers 5's <c>rope_parameters</c>), MistralForCausalLM without a
/// sliding window (a Llama, written back as one) and DeciLMForCausalLM
/// (nemotron-nas <c>block_configs</c>); writes plain Llama for a homogeneous model and nemotron-nas otherwise.
/// </summary>
public static class HfConfig
{
    public const string FileName = "config.json";

    /// <summary>Reads <c>config.json</c> in <paramref name="directory"/>. Where it is missing but a <c>model</c> folder
    /// inside has one (an exported child, a healed model, an extracted package: their Hugging Face folder is
    /// <c>model/</c>), the error names that folder.</summary>
    public static ModelConfig Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            var inner = Path.Combine(directory, "model");
            throw new CheckpointException($"{path}: missing; a Hugging Face checkpoint needs its config.json" +
                                          (File.Exists(Path.Combine(inner, FileName)) ? $" (the Hugging Face folder here is {inner})" : ""));
        }
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses config.json text; <paramref name="source"/> names it in error messages.</summary>
    public static ModelConfig Parse(string json, string source = FileName) => HfConfigReader.Parse(json, source);

    /// <summary>The config.json text for <paramref name="config"/> saved as <paramref name="dtype"/>.</summary>
    public static string ToJson(ModelConfig config, CheckpointFormat format = CheckpointFormat.Auto, TensorDType dtype = TensorDType.F32) =>
        HfConfigWriter.ToJson(config, format, dtype);

    /// <summary>Writes <c>config.json</c> into <paramref name="directory"/>.</summary>
    public static void Write(ModelConfig config, string directory, CheckpointFormat format = CheckpointFormat.Auto, TensorDType dtype = TensorDType.F32)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, FileName), ToJson(config, format, dtype));
    }
}
