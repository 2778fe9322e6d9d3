using System.Text.Json;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Evaluation;

/// <summary>
/// This implementation's logits for given token ids, written where another implementation (Hugging Face
/// transformers) can read them: the check that our model is Llama on any device and in any precision.
/// </summary>
public static class LogitsDump
{
    /// <summary>The tensor name in the output file: float32 [batch, tokens, vocab].</summary>
    public const string LogitsTensor = "logits";

    /// <summary>Reads token ids from a JSON file: an array of equally long arrays of ids.</summary>
    public static long[][] ReadIds(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: token id file not found");
        long[][]? ids;
        try { ids = JsonSerializer.Deserialize<long[][]>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a JSON array of arrays of token ids ({JsonErrors.Describe(e)})", e); }
        if (ids is null || ids.Length == 0 || ids[0].Length == 0)
            throw new InvalidDataException($"{path}: expected a non-empty JSON array of non-empty arrays of token ids");
        if (ids.Any(row => row.Length != ids[0].Length))
            throw new InvalidDataException($"{path}: every sequence must have the same length ({ids[0].Length})");
        return ids;
    }

    /// <summary>Loads the model folder on <paramref name="device"/>, runs <paramref name="ids"/> and writes the logits (as float32) to <paramref name="output"/>.</summary>
    /// <returns>the logits' shape</returns>
    public static long[] Run(string modelDirectory, long[][] ids, ComputeDevice device, string output)
    {
        if (!Directory.Exists(modelDirectory)) throw new DirectoryNotFoundException($"{modelDirectory}: model folder not found");
        var (config, tensors) = Checkpoint.Open(modelDirectory);
        using var model = new CausalLM(config);
        using (tensors) model.LoadWeights(tensors);
        model.eval();
        device.Place(model);
        var outOfRange = ids.SelectMany(r => r).Where(i => i < 0 || i >= config.VocabSize).Take(1).ToList();
        if (outOfRange.Count > 0)
            throw new ArgumentException($"token id {outOfRange[0]} is outside {modelDirectory}'s vocabulary of {config.VocabSize}");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var input = tensor(ids.SelectMany(r => r).ToArray(), [ids.Length, ids[0].Length], dtype: int64).to(device.Device);
        var logits = model.Forward(input).to(float32).cpu();
        SafeTensorsWriter.Write(output, new Dictionary<string, Tensor> { [LogitsTensor] = logits });
        return logits.shape;
    }
}
