using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Evaluation;

/// <param name="Data">held-out text for LM metrics (may be empty when <paramref name="Tasks"/> is not)</param>
/// <param name="Device">where to evaluate (default: the CPU in float32)</param>
/// <param name="Tasks">multiple-choice task files (JSON lines, see <see cref="Tasks.ChoiceTaskFile"/>)</param>
/// <param name="SeqLen">tokens per window of text; null: <see cref="EvalJob.DefaultSeqLen"/>, or fewer where a model was
/// trained on fewer positions</param>
public sealed record EvalRequest(string Model, string? Teacher, IReadOnlyList<string> Data, int? SeqLen = null, int Batch = 8, int? MaxSequences = null,
    ComputeDevice? Device = null, IReadOnlyList<string>? Tasks = null);

/// <param name="Metrics">LM metrics on the request's data; null when it named none</param>
/// <param name="ShortWindowTokens">tokens of a last window shorter than <c>SeqLen + 1</c> (the text's tail), if one was evaluated</param>
public sealed record EvalResult(EvalRequest Request, int SeqLen, LmMetrics? Metrics, IReadOnlyList<TaskResult> Tasks, int? ShortWindowTokens = null);

/// <summary>A model's score on one task, with the teacher's where one was given; retention = accuracy / the teacher's.</summary>
public sealed record TaskResult(Tasks.TaskScore Model, Tasks.TaskScore? Teacher)
{
    public double? Retention => Teacher is { Accuracy: > 0 } t ? Model.Accuracy / t.Accuracy : null;
    public double? RetentionNorm => Teacher is { AccuracyNorm: > 0 } t ? Model.AccuracyNorm / t.AccuracyNorm : null;
}

/// <summary>Evaluates a Hugging Face model folder on held-out text, optionally against a teacher.</summary>
public static class EvalJob
{
    public const int DefaultSeqLen = 256;

    public static EvalResult Run(EvalRequest request, Action<string>? log = null)
    {
        if (request.SeqLen < 2) throw new ArgumentException($"--seq-len must be at least 2, got {request.SeqLen}");
        if (request.Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {request.Batch}");
        if (request.MaxSequences is < 1) throw new ArgumentException($"--max-sequences must be at least 1, got {request.MaxSequences}");
        var taskFiles = request.Tasks ?? [];
        if (request.Data.Count == 0 && taskFiles.Count == 0) throw new ArgumentException("give held-out text (--data), a task file (--task), or both");
        var tasks = taskFiles.Select(Tasks.ChoiceTaskFile.Read).ToList(); // a bad line fails here, before any model loads
        var device = request.Device ?? ComputeDevice.Cpu;
        var folders = new[] { request.Model, request.Teacher }.OfType<string>().ToList();
        foreach (var folder in folders)
            if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: model folder not found");
        var tokenizerPath = Path.Combine(request.Model, "tokenizer.json");
        if (!File.Exists(tokenizerPath)) throw new FileNotFoundException($"{request.Model}: no tokenizer.json, so the text cannot be tokenized");
        using var tokenizer = Tokenizer.Load(tokenizerPath);
        if (request.Teacher is not null && File.Exists(Path.Combine(request.Teacher, "tokenizer.json")) &&
            Tokenizer.HashFile(Path.Combine(request.Teacher, "tokenizer.json")) != tokenizer.Sha256)
            throw new InvalidDataException($"{request.Teacher}: the teacher's tokenizer.json differs from the model's; KL needs the same vocabulary");
        var dataset = request.Data.Count == 1 && File.Exists(Path.Combine(request.Data[0], DatasetManifest.FileName));
        var positions = int.MaxValue;
        foreach (var folder in folders)
        {
            var config = HfConfig.Read(folder);
            tokenizer.RequireFits(config, folder); // before any weights load
            positions = Math.Min(positions, config.MaxPositionEmbeddings);
            // as the spec's data.seq_len: positions past those it was trained on compute, quietly worse
            if (request.Data.Count > 0 && !dataset && request.SeqLen > config.MaxPositionEmbeddings)
                throw new ArgumentException($"--seq-len {request.SeqLen:N0} is beyond the max_position_embeddings {config.MaxPositionEmbeddings:N0} of {folder}: " +
                                            $"it was not trained on positions past them; use at most {config.MaxPositionEmbeddings:N0}");
        }
        var seqLen = request.SeqLen ?? Math.Min(DefaultSeqLen, positions);
        using var model = Load(request.Model, device);
        using var teacher = request.Teacher is null ? null : Load(request.Teacher, device);

        var scores = tasks.Select(t =>
        {
            log?.Invoke($"eval: task {t.Name}, {t.Examples.Count:N0} questions from {t.Source}");
            return new TaskResult(Tasks.ChoiceScorer.Score(model, tokenizer, t, request.Batch),
                teacher is null ? null : Tasks.ChoiceScorer.Score(teacher, tokenizer, t, request.Batch));
        }).ToList();
        if (request.Data.Count == 0) return new EvalResult(request, seqLen, null, scores);

        if (dataset)
        {
            using var data = TokenDataset.Open(request.Data[0], DataSplit.Evaluation);
            data.RequireTokenizer(tokenizer);
            var count = Math.Min(data.Count, request.MaxSequences ?? long.MaxValue);
            log?.Invoke($"eval: {count:N0} windows of {data.SeqLen} tokens from {request.Data[0]}");
            var batches = data.Leading(count, request.Batch).Select(data.GetBatch);
            return new EvalResult(request, data.SeqLen, Evaluator.Evaluate(model, batches, teacher), scores);
        }
        var files = InputFiles.Resolve(request.Data);
        var windows = new TextWindows(tokenizer, files, seqLen);
        log?.Invoke($"eval: windows of {seqLen} tokens from {string.Join(", ", request.Data)}");
        var metrics = Evaluator.Evaluate(model, windows.Batches(request.Batch, request.MaxSequences), teacher);
        if (metrics.Tokens == 0)
            throw new InvalidDataException($"{string.Join(", ", request.Data)}: the text gives fewer than 2 tokens, nothing to evaluate");
        if (windows.TailTokens > 0)
            log?.Invoke($"eval: the text's last {windows.TailTokens} tokens form a shorter last window (a whole one is seq_len + 1 = {seqLen + 1})");
        return new EvalResult(request, seqLen, metrics, scores, windows.TailTokens > 0 ? windows.TailTokens : null);
    }

    static CausalLM Load(string directory, ComputeDevice device)
    {
        var (config, tensors) = Checkpoint.Open(directory);
        using (tensors)
        {
            var model = new CausalLM(config);
            model.LoadWeights(tensors);
            return device.Place(model);
        }
    }
}
