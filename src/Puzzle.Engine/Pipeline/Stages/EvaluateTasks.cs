using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation.Tasks;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Outputs;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Evaluate's multiple-choice tasks: the spec's task files and the task made from held-out text. The held-out task is
/// made inside each Evaluate job rather than by a stage of its own: it takes milliseconds, depends only on the Data
/// job's output and the spec, so every job makes the same one, and each job writes it beside its metrics
/// (<c>tasks/heldout-next-span.jsonl</c>, the file <c>puzzle eval --task</c> takes).
/// </summary>
public static class EvaluateTasks
{
    public const string Folder = "tasks";

    /// <summary>One task file: its name, its content's SHA-256 (what the key hashes) and where it lies.</summary>
    [JobRecord]
    public sealed record TaskFile(string Name, string Sha256, [property: NotInKey("where the file lies; its content is keyed")] string Path);

    /// <summary>What the tasks read: the task files, the held-out task's settings and its seed.</summary>
    [JobRecord]
    public sealed record Settings([property: SpecPath("evaluation.tasks")] IReadOnlyList<TaskFile> Files, [property: SpecPath("evaluation.next_span")] NextSpanSpec NextSpan,
        [property: SpecPath("evaluation.seed")] long Seed)
    {
        public static Settings Of(PipelineSpec spec) => new(spec.Evaluation.Tasks.Select(t =>
        {
            var path = System.IO.Path.Combine(spec.BaseDirectory, t);
            return new TaskFile(ChoiceTaskFile.NameOf(t), CacheStore.HashFile(path), path);
        }).ToList(), spec.Evaluation.NextSpan, spec.Evaluation.Seed);
    }

    /// <summary>
    /// The sequences the task is drawn from: all of <paramref name="evaluation"/>, which Evaluate opens as the Data
    /// job's evaluation part, text whose documents neither Score nor BLD's and GKD's checks read.
    /// </summary>
    public static IReadOnlyList<long> EvaluationSequences(TokenDataset evaluation) =>
        evaluation.Split is DataSplit.Evaluation
            ? Enumerable.Range(0, (int)evaluation.Count).Select(i => (long)i).ToList()
            : throw new ArgumentException($"the held-out task is made from the evaluation part, not from {evaluation.Split}", nameof(evaluation));

    /// <summary>Every task of the spec, in order: the held-out task first (when asked for), then the files.</summary>
    public static IReadOnlyList<ChoiceTask> Load(JobContext context, Settings settings, TokenDataset heldout, Tokenizer tokenizer)
    {
        var tasks = new List<ChoiceTask>();
        var next = settings.NextSpan;
        if (next.Examples > 0)
        {
            var file = context.Output(Path.Combine(Folder, NextSpanTask.Name + ".jsonl"));
            var task = NextSpanTask.Build(heldout, EvaluationSequences(heldout), tokenizer,
                new NextSpanOptions(next.Examples, next.Choices, next.SpanWords, (ulong)settings.Seed), file);
            if (task.Examples.Count == 0)
                context.Log.WriteLine($"{NextSpanTask.Name}: the held-out text has too few passages of {next.SpanWords + 10}+ words for a question; left out");
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                ChoiceTaskFile.Write(file, task);
                tasks.Add(task);
            }
        }
        tasks.AddRange(settings.Files.Select(t => ChoiceTaskFile.Read(t.Path)));
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
    public static IReadOnlyList<TaskScore> Score(JobContext context, CausalLM model, Tokenizer tokenizer, IReadOnlyList<ChoiceTask> tasks, int batch)
    {
        var results = new List<TaskScore>();
        foreach (var task in tasks)
        {
            var line = new Training.ProgressLine($"task {task.Name} {context.Job.Id}", task.Examples.Sum(e => e.Choices.Count), context.Log, unit: "choice");
            var score = ChoiceScorer.Score(model, tokenizer, task, batch, (done, _) => line.Report(done, double.NaN));
            results.Add(score);
            context.Log.WriteLine($"{context.Job.Id}: {task.Name}: accuracy {score.Accuracy:P1}, per character {score.AccuracyNorm:P1} " +
                                  $"on {score.Examples} questions of {score.Choices} choices (chance {score.Chance:P0})");
        }
        return results;
    }
}
