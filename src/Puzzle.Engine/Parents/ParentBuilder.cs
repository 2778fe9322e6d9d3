using System.Diagnostics;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Model;
using Puzzle.Engine.Tokenization;
using Puzzle.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Parents;

/// <summary>
/// Makes a parent from text: trains a BPE tokenizer, packs the text into token shards, pretrains a Llama with GQA,
/// evaluates it on the held-out split, and saves it in Hugging Face format with its tokenizer and a report.
/// </summary>
public static class ParentBuilder
{
    public const string SamplePrompt = "Call me Ishmael. Some years ago";

    /// <param name="outputDirectory">the Hugging Face folder to publish (atomically)</param>
    /// <param name="workDirectory">tokenizer and token shards (reused by later runs when present)</param>
    public static ParentReport Build(ParentRecipe recipe, string outputDirectory, string workDirectory,
        string? baseDirectory = null, Action<string>? log = null)
    {
        log ??= Console.Error.WriteLine;
        var tokenizerDir = Path.Combine(workDirectory, "tokenizer");
        var tokenizerPath = Path.Combine(tokenizerDir, "tokenizer.json");
        var inputs = InputFiles.Resolve(recipe.Inputs, baseDirectory);
        if (!File.Exists(tokenizerPath))
        {
            var bpe = BpeTrainer.TrainOnFiles(inputs, baseDirectory, new BpeTrainerOptions { VocabSize = recipe.VocabSize });
            var temp = tokenizerDir + ".tmp-" + Environment.ProcessId;
            bpe.Save(temp);
            Directory.CreateDirectory(workDirectory);
            if (Directory.Exists(tokenizerDir)) Directory.Delete(tokenizerDir, recursive: true);
            Directory.Move(temp, tokenizerDir);
            log($"tokenizer: {bpe.VocabSize} tokens trained on {bpe.TrainingCharacters:N0} characters in {bpe.Elapsed.TotalSeconds:F1} s");
        }
        using var tokenizer = Tokenizer.Load(tokenizerPath);
        var dataDir = Path.Combine(workDirectory, $"data-seq{recipe.SeqLen}");
        if (!File.Exists(Path.Combine(dataDir, DatasetManifest.FileName)))
        {
            var built = TokenDatasetBuilder.Build(tokenizer, new DataBuildOptions
            {
                Inputs = recipe.Inputs, BaseDirectory = baseDirectory, SeqLen = recipe.SeqLen,
                HeldoutFraction = recipe.HeldoutFraction, Seed = (ulong)recipe.Seed,
            }, dataDir, overwrite: true);
            log($"data: {built.Manifest.Counts.Tokens:N0} tokens from {built.Manifest.Sources.Count} files → " +
                $"{built.Manifest.Train.Sequences:N0} train / {built.Manifest.Heldout.Sequences:N0} held-out sequences in {built.Elapsed.TotalSeconds:F1} s");
        }

        return Pretrain(recipe, tokenizer, dataDir, outputDirectory, log);
    }

    /// <summary>Pretrains on a token dataset made with <paramref name="tokenizer"/> and publishes the parent folder.</summary>
    public static ParentReport Pretrain(ParentRecipe recipe, Tokenizer tokenizer, string dataDir, string outputDirectory,
        Action<string>? log = null, TextWriter? progressOutput = null)
    {
        log ??= Console.Error.WriteLine;
        var config = recipe.ModelConfig(tokenizer.VocabSize, tokenizer.BosId, tokenizer.EosId);
        using var train = TokenDataset.Open(dataDir, DataSplit.Train);
        using var heldout = TokenDataset.Open(dataDir, DataSplit.Heldout);
        train.RequireTokenizer(tokenizer);
        using var model = CausalLM.Initialise(config, recipe.Seed);
        model.train();
        log($"parent '{recipe.Name}': {config.NumLayers} layers, d={config.HiddenSize}, {config.NumAttentionHeads} heads / " +
            $"{config.Blocks[0].Attention.KvHeads} KV heads, FFN {config.Blocks[0].Ffn.IntermediateSize}, vocab {config.VocabSize}, " +
            $"{model.ParameterCount / 1e6:F2}M parameters; {train.Count:N0} train sequences of {recipe.SeqLen}");
        var clock = Stopwatch.StartNew();
        var batches = train.InfiniteBatches(recipe.BatchSize, (ulong)recipe.Seed).Select(train.GetBatch);
        var curve = Trainer.Run(model.named_parameters().Select(p => (p.name, p.parameter)), batches, model.Loss,
            (long)recipe.BatchSize * recipe.SeqLen, recipe.Train, new ProgressLine("pretrain", recipe.Train.Tokens, progressOutput));
        var seconds = clock.Elapsed.TotalSeconds;
        var trainTokens = curve[^1].Tokens;

        var metrics = Evaluator.Evaluate(model, heldout.Batches(recipe.BatchSize, 0, 0, dropLast: false).Select(heldout.GetBatch));
        var prompt = tokenizer.Encode(SamplePrompt, addBos: true).Select(i => (long)i).ToArray();
        var sample = tokenizer.Decode(model.GenerateGreedy(prompt, 48, config.EosTokenId).Select(i => (int)i));
        var report = new ParentReport
        {
            Recipe = recipe.Name,
            Architecture = $"Llama, {config.NumLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads} heads, " +
                           $"{config.Blocks[0].Attention.KvHeads} KV heads, FFN {config.Blocks[0].Ffn.IntermediateSize}, vocab {config.VocabSize}",
            Parameters = model.ParameterCount, TrainTokens = trainTokens, TrainSeconds = seconds,
            TrainTokensPerSecond = trainTokens / seconds, TorchThreads = torch.get_num_threads(),
            Heldout = metrics, HeldoutUnigramEntropy = UnigramEntropy(heldout),
            SamplePrompt = SamplePrompt, SampleGreedy = sample, LossCurve = curve,
        };
        var extra = new Dictionary<string, string> { [ParentReport.FileName] = report.ToJson() };
        var tokenizerConfig = Path.Combine(Path.GetDirectoryName(tokenizer.Path)!, "tokenizer_config.json");
        if (File.Exists(tokenizerConfig)) extra["tokenizer_config.json"] = File.ReadAllText(tokenizerConfig);
        Checkpoint.Save(outputDirectory, config, model.state_dict(), tokenizerPath: tokenizer.Path, extraFiles: extra);
        return report;
    }

    /// <summary>Entropy in nats of the unigram distribution of the predicted (target) tokens of a split.</summary>
    public static double UnigramEntropy(TokenDataset data)
    {
        var counts = new Dictionary<int, long>();
        long total = 0;
        for (long i = 0; i < data.Count; i++)
            foreach (var token in data.ReadSequence(i).AsSpan(1))
            {
                counts[token] = counts.GetValueOrDefault(token) + 1;
                total++;
            }
        return -counts.Values.Sum(c => (double)c / total * Math.Log((double)c / total));
    }
}
