using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;

namespace Puzzle.Benchmarks;

/// <summary>A scratch repository in the temp folder for benchmarks that need a parent of a given shape: text copied
/// from the fetched documents in .puzzle, a BPE tokenizer trained on it, and a random-weight parent (std 0.02, as
/// transformers initialises) saved under parent/, with an empty pipelines/ folder for the benchmark's spec.</summary>
public static class ScratchParent
{
    /// <param name="shape">the parent's shape for the tokenizer's vocabulary size</param>
    /// <returns>the repository's root (deleted first if it was there)</returns>
    public static string Create(string name, int vocabSize, Func<int, ModelConfig> shape)
    {
        var root = Path.Combine(Path.GetTempPath(), $"puzzle-bench-{name}");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(Path.Combine(root, "pipelines"));
        Directory.CreateDirectory(Path.Combine(root, "text"));
        var docs = Directory.GetFiles(Path.Combine(".puzzle", "cache"), "*.txt", SearchOption.AllDirectories).Take(40).ToList();
        if (docs.Count == 0) throw new InvalidOperationException("no fetched text in .puzzle: run pipelines/ci.yaml first");
        foreach (var d in docs) File.Copy(d, Path.Combine(root, "text", Guid.NewGuid().ToString("N") + ".txt"));
        var tokenizer = Engine.Tokenization.BpeTrainer.TrainOnFiles([Path.Combine(root, "text", "*.txt")], root,
            new Engine.Tokenization.BpeTrainerOptions { VocabSize = vocabSize });
        var config = shape(tokenizer.VocabSize) with { BosTokenId = 1, EosTokenId = 2 };
        using (var model = CausalLM.Initialise(config, 0))
            Checkpoint.Save(Path.Combine(root, "parent"), config, model.state_dict(), tokenizerPath: tokenizer.Save(Path.Combine(root, "tok")));
        return root;
    }
}
