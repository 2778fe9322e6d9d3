using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data;
using Puzzle.Engine.Model;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Evaluation.Tasks;

/// <summary>
/// Evaluate's multiple-choice tasks: the spec's task files and the task made from held-out text. The held-out task is
/// made inside each Evaluate job rather than by a stage of its own: it takes milliseconds, depends only on the Data
/// job's output and the spec, so every job makes the same one, and each job writes it beside its metrics
/// (<c>tasks/heldout-next-span.jsonl</c>, the file <c>puzzle eval --task</c> takes).
/// </summary>
public static class EvaluateTasks
{
    public const string Folder = "tasks";

    /// <summary>
    /// The sequences the task is drawn from: all of <paramref name="evaluation"/>, which Evaluate opens as the Data
    /// job's evaluation part, text whose documents neither Score nor BLD's and GKD's checks read.
    /// </summary>
    public static IReadOnlyList<long> EvaluationSequences(TokenDataset evaluation) =>
        evaluation.Split is DataSplit.Evaluation
            ? Enumerable.Range(0, (int)evaluation.Count).Select(i => (long)i).ToList()
            : throw new ArgumentException($"the held-out task is made from the evaluation part, not from {evaluation.Split}", nameof(evaluation));

    /// <summary>Every task, in order: the held-out task first (when <paramref name="next"/> asks for examples), written
    /// into <paramref name="folder"/>, then the task files.</summary>
    public static IReadOnlyList<ChoiceTask> Load(NextSpanOptions next, IEnumerable<string> files, TokenDataset heldout, Tokenizer tokenizer,
        string folder, TextWriter log)
    {
        var tasks = new List<ChoiceTask>();
        if (next.Examples > 0)
        {
            var file = Path.Combine(folder, NextSpanTask.Name + ".jsonl");
            var task = NextSpanTask.Build(heldout, EvaluationSequences(heldout), tokenizer, next, file);
            if (task.Examples.Count == 0)
                log.WriteLine($"{NextSpanTask.Name}: the held-out text has too few passages of {next.SpanWords + 10}+ words for a question; left out");
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                ChoiceTaskFile.Write(file, task);
                tasks.Add(task);
            }
        }
        tasks.AddRange(files.Select(ChoiceTaskFile.Read));
        return tasks;
    }

    /// <summary>The tokenizer the parent was saved with, else the one the Data job used.</summary>
    public static Tokenizer Tokenizer(string parentDirectory, TokenDataset data, string baseDirectory)
    {
        var own = Path.Combine(parentDirectory, Checkpoint.TokenizerFileName);
        if (File.Exists(own)) return Tokenization.Tokenizer.Load(own);
        var used = data.Manifest.Tokenizer.Path;
        return Tokenization.Tokenizer.Load(Path.IsPathRooted(used) ? used : Path.Combine(baseDirectory, used));
    }

    /// <summary>Scores <paramref name="model"/> on every task, as the metrics' <c>tasks</c> list.</summary>
    /// <param name="label">what the progress and log lines call the model (the Evaluate job's id)</param>
    public static IReadOnlyList<TaskScore> Score(CausalLM model, Tokenizer tokenizer, IReadOnlyList<ChoiceTask> tasks, int batch, string label, TextWriter log)
    {
        var results = new List<TaskScore>();
        foreach (var task in tasks)
        {
            var line = new Training.ProgressLine($"task {task.Name} {label}", task.Examples.Sum(e => e.Choices.Count), log, unit: "choice");
            var score = ChoiceScorer.Score(model, tokenizer, task, batch, (done, _) => line.Report(done, double.NaN));
            results.Add(score);
            log.WriteLine($"{label}: {task.Name}: accuracy {score.Accuracy:P1}, per character {score.AccuracyNorm:P1} " +
                          $"on {score.Examples} questions of {score.Choices} choices (chance {score.Chance:P0})");
        }
        return results;
    }
}
