using System.Diagnostics;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tokenization;
using Puzzle.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Parents;

/// <summary>
/// Makes a parent when none can be downloaded: pretrains a Llama with GQA on a token dataset, evaluates it on the
/// evaluation part of its held-out text (as Evaluate and <c>puzzle eval</c> do), and publishes it in Hugging Face format with its tokenizer and a report.
/// </summary>
public static class ParentBuilder
{
    public const string SamplePrompt = "Call me Ishmael. Some years ago";

    /// <summary>Pretrains on a token dataset made with <paramref name="tokenizer"/> and publishes the parent folder.</summary>
    /// <param name="shape">the parent's architecture for a vocabulary size and a sequence length (the tokenizer's and the
    /// dataset's); BOS and EOS are the tokenizer's</param>
    /// <param name="options">the trainer's options; <paramref name="batch"/> sequences per step, in the order
    /// <paramref name="seed"/> draws (which also initialises the weights)</param>
    /// <param name="device">where to train (default: the CPU in float32); weights are initialised on the CPU either way, so
    /// a seed gives the same initial parent everywhere</param>
    /// <param name="checkpoints">where to save resumable state as training goes; state found there is resumed from</param>
    public static ParentReport Pretrain(Func<int, int, ModelConfig> shape, TrainOptions options, int batch, long seed, Tokenizer tokenizer,
        string dataDir, string outputDirectory, Action<string>? log = null, TextWriter? progressOutput = null, ComputeDevice? device = null,
        TrainCheckpoints? checkpoints = null)
    {
        log ??= Console.Error.WriteLine;
        device ??= ComputeDevice.Cpu;
        using var train = TokenDataset.Open(dataDir, DataSplit.Train);
        using var heldout = TokenDataset.Open(dataDir, DataSplit.Evaluation);
        train.RequireTokenizer(tokenizer);
        var config = shape(tokenizer.VocabSize, train.SeqLen) with { BosTokenId = tokenizer.BosId, EosTokenId = tokenizer.EosId };
        using var model = device.Place(CausalLM.Initialise(config, seed));
        model.train();
        var block = config.Blocks[0];
        var architecture = $"Llama, {config.NumLayers} layers, hidden {config.HiddenSize}, {config.NumAttentionHeads} heads, " +
                           $"{block.Attention.KvHeads} KV heads, FFN {block.Ffn.IntermediateSize}, vocab {config.VocabSize}";
        log($"parent: {architecture}, {model.ParameterCount / 1e6:F2}M parameters; {train.Count:N0} train sequences of {train.SeqLen}; on {device}");
        var resumedFrom = checkpoints?.LatestStep;
        if (resumedFrom is { } step) log($"parent: resuming from the checkpoint at step {step} in {checkpoints!.Directory}");
        var clock = Stopwatch.StartNew();
        var batches = train.InfiniteBatches(batch, (ulong)seed).Select(train.GetBatch).Select(device.Put);
        var tokensPerBatch = (long)batch * train.SeqLen;
        if (options.WarmupWarning(tokensPerBatch, "parent.pretrain") is { } warmup) log(warmup);
        var curve = Trainer.Run(model.named_parameters().Select(p => (p.name, p.parameter)), batches, model.Loss,
            tokensPerBatch, options, new ProgressLine("pretrain", options.Steps(tokensPerBatch) * tokensPerBatch, progressOutput), checkpoints);
        var seconds = clock.Elapsed.TotalSeconds;
        var trainTokens = curve[^1].Tokens;
        var tokensThisRun = trainTokens - (resumedFrom ?? 0) * tokensPerBatch; // the rate of this process's training alone

        var metrics = Evaluator.Evaluate(model, heldout.Batches(batch, 0, 0, dropLast: false).Select(heldout.GetBatch));
        var prompt = tokenizer.Encode(SamplePrompt, addBos: true).Select(i => (long)i).ToArray();
        var sample = tokenizer.Decode(model.GenerateGreedy(prompt, 48, config.EosTokenId, tokenizer.VocabSize).Select(i => (int)i));
        var report = new ParentReport
        {
            Architecture = architecture, Parameters = model.ParameterCount, TrainTokens = trainTokens, TrainSeconds = seconds,
            TrainTokensPerSecond = tokensThisRun / seconds, TorchThreads = torch.get_num_threads(), ResumedFromStep = resumedFrom,
            Heldout = metrics, HeldoutUnigramEntropy = UnigramEntropy(heldout),
            SamplePrompt = SamplePrompt, SampleGreedy = sample, LossCurve = curve,
        };
        log($"held-out loss {metrics.Loss:F3} nats/token (perplexity {metrics.Perplexity:F1}), top-1 {metrics.Top1:P1}; " +
            $"unigram entropy of the held-out text {report.HeldoutUnigramEntropy:F3}; greedy: \"{SamplePrompt}\" → \"{sample}\"");
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
