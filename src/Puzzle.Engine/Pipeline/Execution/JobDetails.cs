using System.Globalization;
using System.Text;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// <c>puzzle show</c>: where one job's output lies (its cache folder and what is in it, its artifacts copy), its state,
/// metrics and log, so nobody digs a model out of <c>.puzzle/cache/&lt;ab&gt;/&lt;64 hex&gt;/</c> by hand.
/// </summary>
public static class JobDetails
{
    public static string Describe(PipelineSession session, JobPlan job)
    {
        var text = new StringBuilder();
        var status = PipelineStatus.Of(job, session.Store, session.History);
        text.AppendLine($"{job.Name}: {status.State.ToString().ToLowerInvariant()}{(status.Reason.Length > 0 ? $" ({status.Reason})" : "")}");
        text.AppendLine($"  key       {job.Key}");
        if (session.Store.Find(job.Key) is { } entry)
        {
            text.AppendLine($"  output    {entry.Directory}");
            foreach (var item in Directory.EnumerateFileSystemEntries(entry.Directory).Where(p => Path.GetFileName(p) != JobManifest.FileName)
                         .Order(StringComparer.Ordinal))
                text.AppendLine($"    {Path.GetFileName(item)}{(Directory.Exists(item) ? "/" : "")}  {Size(item)}");
            // a model folder is what users come for (the parent, a healed child): say how to evaluate it
            // (an existing parent's job points at the user's folder instead of copying it: the one this run planned)
            var model = job.Stage.Name == "Parent" ? Stages.ParentStage.ModelDirectory(job, entry.Directory) : Path.Combine(entry.Directory, "model");
            // in windows of the length the pipeline trained and measured it at: a parent pretrained here declares four times
            // that many positions (room for the scenario's timings), which puzzle eval's default window would otherwise read
            if (File.Exists(Path.Combine(model, "config.json")))
                text.AppendLine($"  evaluate  puzzle eval --model {model} --data YOUR_TEXT.txt --seq-len {session.Spec.Data.SeqLen}");
            if (job.Config is Stages.EvaluateStage.EvaluateJob evaluated && Reproduce(session, job, evaluated, entry.Directory) is { } command)
                text.AppendLine($"  reproduce {command}");
            if (job.Stage.ArtifactFolder(job) is { } folder)
            {
                var copy = Path.Combine(session.Spec.BaseDirectory, "artifacts", session.Spec.Name, folder);
                if (Directory.Exists(copy)) text.AppendLine($"  artifacts {copy}");
            }
            var m = entry.Manifest;
            text.AppendLine($"  built     {m.StartedUtc.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC in " +
                            $"{RunSummary.Duration(m.Seconds)} on {m.Host} (puzzle {m.Tool})");
            if (m.Metrics.Count > 0)
            {
                text.AppendLine("  metrics");
                var width = m.Metrics.Max(p => p.Key.Length);
                foreach (var (name, value) in m.Metrics) text.AppendLine($"    {name.PadRight(width)}  {value?.ToJsonString() ?? "null"}");
            }
        }
        else
        {
            text.AppendLine($"  output    none yet: puzzle run {session.Spec.SourcePath} --target {job.Stage.Name}");
        }
        var logs = new RunLogs(session.Store.Root, session.Spec.Name);
        text.AppendLine($"  log       {(File.Exists(logs.PathOf(job)) ? logs.PathOf(job) : "none yet")}");
        if (File.Exists(logs.FailedPathOf(job))) text.AppendLine($"  failed    {logs.FailedPathOf(job)} (the last attempt that failed)");
        text.AppendLine($"  inputs    {(job.Inputs.Count == 0 ? "none" : string.Join(", ", job.Inputs.Values.Select(i => i.Name).Distinct()))}");
        return text.ToString();
    }

    /// <summary>
    /// The <c>puzzle eval</c> command that measures what an Evaluate job measured: its model (against the parent) on the
    /// same leading sequences of the Data job's evaluation part, on its device and dtype, with its tasks. Without
    /// <c>--max-sequences</c>, <c>puzzle eval</c> reads the whole evaluation part, not the <c>evaluation.tokens</c> the job
    /// read, and gives other numbers. Null while an input is not in the store.
    /// </summary>
    static string? Reproduce(PipelineSession session, JobPlan job, Stages.EvaluateStage.EvaluateJob evaluated, string output)
    {
        string? Output(string input) => job.Inputs.TryGetValue(input, out var plan) ? session.Store.Find(plan.Key)?.Directory : null;
        if (Output("parent") is not { } parentJob || Output("data") is not { } data) return null;
        var parent = Stages.ParentStage.ModelDirectory(job.Inputs["parent"], parentJob);
        var model = !job.Inputs.ContainsKey("model") ? parent
            : Output("model") is { } heal ? Path.Combine(heal, Stages.HealStage.ModelFolder) : null;
        if (model is null || !File.Exists(Path.Combine(model, "config.json"))) return null;
        var sequences = Math.Max(1, evaluated.Tokens / job.Inputs["data"].ConfigAs<Stages.DataStage.DataJob>().SeqLen);
        var command = new StringBuilder($"puzzle eval --model {model}");
        if (model != parent) command.Append($" --teacher {parent}");
        command.Append($" --data {Path.Combine(data, Stages.DataStage.Folder)} --max-sequences {sequences}");
        // the device as the job's key names it: "cuda", "cuda-float32", "cpu-bfloat16"; none for the CPU in float32
        if (evaluated.Device?.Split('-') is [var device, .. var dtype])
            command.Append($" --device {device}{(dtype is [var type] ? $" --dtype {type}" : "")}");
        var nextSpan = Path.Combine(output, Evaluation.Tasks.EvaluateTasks.Folder, Evaluation.Tasks.NextSpanTask.Name + ".jsonl");
        foreach (var task in (File.Exists(nextSpan) ? [nextSpan] : Array.Empty<string>()).Concat(evaluated.Tasks.Files.Select(f => f.Path)))
            command.Append($" --task {task}");
        return command.ToString();
    }

    static string Size(string path)
    {
        var bytes = Directory.Exists(path)
            ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length)
            : new FileInfo(path).Length;
        return StoreUsage.Human(bytes);
    }
}
