using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Benchmarks;

/// <summary>
/// The main job as a new user runs it: a clone of this repository's HEAD in a temporary folder, then the README's
/// <c>dotnet tool restore &amp;&amp; dotnet cake</c>, timed whole (goal: at most 5 minutes on the 2-core CI machine), with each
/// stage's job time, the parent's held-out loss and the report's goals. Run from the repository root with nothing else
/// running, built from HEAD (its stages plan the keys the clone's store is read by); the clone is deleted afterwards,
/// unless <c>--keep DIR</c> names a new folder to clone into and keep, store and logs included.
/// </summary>
public static class MainJobBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("main-job");
        var keep = args is ["--keep", var dir, ..] ? Path.GetFullPath(dir) : null;
        if (keep is not null && Path.Exists(keep)) throw new ArgumentException($"--keep {keep}: already exists; name a new folder");
        var clone = keep ?? Path.Combine(Path.GetTempPath(), $"puzzle-main-job-{Guid.NewGuid():N}");
        try
        {
            Processes.Exec("git", "clone", "--quiet", Environment.CurrentDirectory, clone);
            var head = Processes.Output("git", "-C", clone, "rev-parse", "--short", "HEAD").Trim();
            var clock = Stopwatch.StartNew();
            Processes.ExecIn(clone, "dotnet", "tool", "restore");
            Processes.ExecIn(clone, "dotnet", "cake");
            var wall = clock.Elapsed.TotalSeconds;
            var spec = Path.Combine(clone, "pipelines", "default.yaml");
            var session = PipelineSession.Open(spec);
            var run = RunSummary.Parse(File.ReadAllText(Path.Combine(session.Store.Root, "runs", session.Spec.Name, "last.json")));
            report.Add("main job: dotnet tool restore && dotnet cake, new clone", wall, "s",
                $"commit {head}, {run.Jobs.Count} jobs; the run itself {run.Seconds:F0} s; goal: at most 300 s on this 2-core machine");
            foreach (var stage in run.Jobs.GroupBy(j => j.Stage))
            {
                int processes = stage.Count(j => j.Seconds > 0), jobs = stage.Count();
                report.Add($"stage {stage.Key}: job time", stage.Sum(j => j.Seconds), "s",
                    $"{processes} process{(processes == 1 ? "" : "es")} for {jobs} job{(jobs == 1 ? "" : "s")}, their times summed");
            }
            var parent = session.Store.Find(session.Graph.Find("Parent", "parent").Key)!.Manifest.Metrics;
            report.Add("parent held-out loss", parent["heldout_loss"]!.GetValue<double>(), "nats/token",
                $"pretrained at {parent["train_tokens_per_s"]!.GetValue<double>():F0} tokens/s");
            var reportJob = session.Store.Find(session.Graph.Jobs["Report"].Single().Key)
                            ?? throw new InvalidOperationException($"the clone's store has no Report job of the key this build plans: build the benchmark from HEAD ({head}), where the clone's code is");
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(reportJob.Directory, "report.json")))!;
            var goals = json["goals"]!;
            report.Add("child retention of the parent's top-1", goals["retention"]!.GetValue<double>() * 100, "%", $"goal met: {goals["retention_met"]}");
            report.Add("child measured speedup", goals["measured_speedup"]!.GetValue<double>(), "x",
                $"target {goals["speedup_target"]}x; every goal met: {goals["met"]}");
            var baselines = goals["beats_baselines"]!.AsObject();
            report.Add("child beats the baselines at equal measured speed", baselines.Count(b => b.Value?["beats"]?.GetValue<bool>() == true), $"of {baselines.Count}",
                string.Join("; ", baselines.Select(b => $"{b.Key}: {b.Value?["rule"]}")) + (goals["why"] is { } why ? $"; goals not met: {why}" : ""));
            if (json["closed_loop"]?["rounds"]?.AsArray() is { Count: > 0 } rounds)
                report.Add("search: closed-loop rounds", rounds.Count, "", "the child timed at " +
                    string.Join(", ", rounds.Select(r => $"{r!["measured_speedup"]!.GetValue<double>():F2}x")) + " (the Search job's time grows with them)");
            var points = json["curves"]!.AsArray().SelectMany(c => c!["points"]!.AsArray()).Select(p => (Model: p!["model"]!.GetValue<string>(),
                Error: p["speedup"]!["predicted"]!.GetValue<double>() / p["speedup"]!["measured"]!.GetValue<double>() - 1)).ToList();
            var errors = points.Select(p => p.Error).ToList();
            report.Add("models predicted within ±10% of measured", errors.Count(e => Math.Abs(e) <= 0.10), $"of {errors.Count}",
                $"errors {100 * errors.Min():+0.0;-0.0;0.0}% to {100 * errors.Max():+0.0;-0.0;0.0}%: " +
                string.Join(", ", points.Select(p => $"{p.Model} {100 * p.Error:+0.0;-0.0;0.0}%")));
            var measure = session.Store.Find(session.Graph.Jobs["Measure"].First().Key)!.Manifest.Metrics;
            if (measure["size_curve_k"] is { } k)
                report.Add("size curve K", k.GetValue<double>(), "", "fitted by the Measure job to the sampled architectures and the block shapes' models, timed whole (0: whole time proportional to summed blocks)");
        }
        finally
        {
            if (keep is null && Directory.Exists(clone)) Directory.Delete(clone, recursive: true);
        }
        if (keep is not null) Console.Error.WriteLine($"the clone, with its store: {keep}");
        return report;
    }

    /// <summary>
    /// The default parent's pretraining budget: held-out loss and time of the Parent job for several tokens × sequences
    /// per step (× peak lr), each in a spec that differs from pipelines/default.yaml only there, all in one temporary store.
    /// Args: settings as TOKENS:BATCH[:LR]; default the spec before 2026-11-30 (600000:16), the spec's (360000:4), and
    /// 300000:4:0.002 and 450000:16.
    /// </summary>
    public static BenchmarkReport ParentBudget(string[] args)
    {
        var settings = (args.Length > 0 ? args : ["600000:16", "360000:4", "300000:4:0.002", "450000:16"])
            .Select(a => a.Split(':')).Select(p => (Tokens: long.Parse(p[0], CultureInfo.InvariantCulture), Batch: int.Parse(p[1], CultureInfo.InvariantCulture),
                Lr: p.Length > 2 ? p[2] : null)).ToList();
        var report = new BenchmarkReport("parent-budget");
        var root = Path.Combine(Path.GetTempPath(), $"puzzle-parent-budget-{Guid.NewGuid():N}");
        var store = Path.Combine(root, ".puzzle");
        Directory.CreateDirectory(Path.Combine(root, "pipelines"));
        try
        {
            var yaml = File.ReadAllText(Path.Combine("pipelines", "default.yaml"));
            foreach (var (tokens, batch, lr) in settings)
            {
                // the pretrain section's tokens and batch lines (a batch line is added where there is none)
                var tokensLine = new Regex(@"^(    tokens: )\d+[^\n]*\n(    batch: [^\n]*\n)?", RegexOptions.Multiline);
                if (tokensLine.Matches(yaml).Count != 1) throw new InvalidDataException("pipelines/default.yaml: expected one parent.pretrain tokens line");
                var spec = Path.Combine(root, "pipelines", $"parent-{tokens}-{batch}{(lr is null ? "" : "-" + lr)}.yaml");
                File.WriteAllText(spec, tokensLine.Replace(yaml, $"${{1}}{tokens}\n    batch: {batch}\n" + (lr is null ? "" : $"    lr: {lr}\n")));
                Processes.Exec("dotnet", Cli, "run", spec, "--target", "Data", "--store", store); // fetched once, cached after
                var clock = Stopwatch.StartNew();
                Processes.Exec("dotnet", Cli, "run", spec, "--target", "Parent", "--store", store);
                var seconds = clock.Elapsed.TotalSeconds;
                var session = PipelineSession.Open(spec, store);
                var m = session.Store.Find(session.Graph.Find("Parent", "parent").Key)!.Manifest.Metrics;
                report.Add($"parent {tokens:N0} tokens, {batch} sequences a step{(lr is null ? "" : ", lr " + lr)}: held-out loss",
                    m["heldout_loss"]!.GetValue<double>(), "nats/token",
                    $"Parent job {seconds:F1} s, {m["train_tokens_per_s"]!.GetValue<double>():F0} tokens/s, top-1 {100 * m["heldout_top1"]!.GetValue<double>():F1}%");
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
        return report;
    }

    static string Cli => Path.GetFullPath(Path.Combine("src", "Puzzle.Cli", "bin", "Release", "net10.0", "puzzle.dll"));
}
