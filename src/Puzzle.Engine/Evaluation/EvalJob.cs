using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Evaluation;

/// <param name="Device">where to evaluate (default: the CPU in float32)</param>
public sealed record EvalRequest(string Model, string? Teacher, IReadOnlyList<string> Data, int SeqLen = 256, int Batch = 8, int? MaxSequences = null,
    ComputeDevice? Device = null);

/// <param name="ShortWindowTokens">tokens of a last window shorter than <c>SeqLen + 1</c> (the text's tail), if one was evaluated</param>
public sealed record EvalResult(EvalRequest Request, int SeqLen, LmMetrics Metrics, int? ShortWindowTokens = null);

/// <summary>Evaluates a Hugging Face model folder on held-out text, optionally against a teacher.</summary>
public static class EvalJob
{
    public static EvalResult Run(EvalRequest request, Action<string>? log = null)
    {
        if (request.SeqLen < 2) throw new ArgumentException($"--seq-len must be at least 2, got {request.SeqLen}");
        if (request.Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {request.Batch}");
        if (request.MaxSequences is < 1) throw new ArgumentException($"--max-sequences must be at least 1, got {request.MaxSequences}");
        var device = request.Device ?? ComputeDevice.Cpu;
        using var model = Load(request.Model, device);
        using var teacher = request.Teacher is null ? null : Load(request.Teacher, device);
        var tokenizerPath = Path.Combine(request.Model, "tokenizer.json");
        if (!File.Exists(tokenizerPath)) throw new FileNotFoundException($"{request.Model}: no tokenizer.json, so the text cannot be tokenized");
        using var tokenizer = Tokenizer.Load(tokenizerPath);
        if (teacher is not null && File.Exists(Path.Combine(request.Teacher!, "tokenizer.json")) &&
            Tokenizer.HashFile(Path.Combine(request.Teacher!, "tokenizer.json")) != tokenizer.Sha256)
            throw new InvalidDataException($"{request.Teacher}: the teacher's tokenizer.json differs from the model's; KL needs the same vocabulary");

        if (request.Data.Count == 1 && File.Exists(Path.Combine(request.Data[0], DatasetManifest.FileName)))
        {
            using var data = TokenDataset.Open(request.Data[0], DataSplit.Heldout);
            data.RequireTokenizer(tokenizer);
            var count = Math.Min(data.Count, request.MaxSequences ?? long.MaxValue);
            log?.Invoke($"eval: {count:N0} windows of {data.SeqLen} tokens from {request.Data[0]}");
            var batches = data.Leading(count, request.Batch).Select(data.GetBatch);
            return new EvalResult(request, data.SeqLen, Evaluator.Evaluate(model, batches, teacher));
        }
        var files = InputFiles.Resolve(request.Data);
        var windows = new TextWindows(tokenizer, files, request.SeqLen);
        log?.Invoke($"eval: windows of {request.SeqLen} tokens from {string.Join(", ", request.Data)}");
        var metrics = Evaluator.Evaluate(model, windows.Batches(request.Batch, request.MaxSequences), teacher);
        if (metrics.Tokens == 0)
            throw new InvalidDataException($"{string.Join(", ", request.Data)}: the text gives fewer than 2 tokens, nothing to evaluate");
        if (windows.TailTokens > 0)
            log?.Invoke($"eval: the text's last {windows.TailTokens} tokens form a shorter last window (a whole one is seq_len + 1 = {request.SeqLen + 1})");
        return new EvalResult(request, request.SeqLen, metrics, windows.TailTokens > 0 ? windows.TailTokens : null);
    }

    static CausalLM Load(string directory, ComputeDevice device)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: model folder not found");
        var (config, tensors) = Checkpoint.Open(directory);
        using (tensors)
        {
            var model = new CausalLM(config);
            model.LoadWeights(tensors.Read);
            return device.Place(model);
        }
    }
}
