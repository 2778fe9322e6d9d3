using System.Diagnostics;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Benchmarks;

/// <summary>
/// What running on Slurm costs over running here: <c>pipelines/ci.yaml</c> up to Pack (31 jobs, chains of short jobs)
/// through the CLI with the local executor, then with the Slurm executor on the test cluster, each into a new store, in
/// the same run. Start the cluster first (<c>bash .ci/slurm-cluster up</c>); run from the repository root after a
/// Release build.
/// </summary>
public static class SlurmBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("slurm");
        var cli = Path.Combine(Environment.CurrentDirectory, "src", "Puzzle.Cli", "bin", "Release", "net10.0", "puzzle.dll");
        if (!File.Exists(cli)) throw new FileNotFoundException($"{cli}: build first (dotnet build Puzzle.sln -c Release)");
        double? local = null;
        foreach (var executor in new[] { "local", "slurm" })
        {
            var store = Directory.CreateTempSubdirectory("puzzle-bench-slurm-").FullName;
            try
            {
                var record = Path.Combine(store, "run.json");
                var clock = Stopwatch.StartNew();
                Processes.Exec("dotnet", cli, "run", "pipelines/ci.yaml", "--target", "Pack", "--executor", executor, "--store", store, "--summary", record);
                var wall = clock.Elapsed.TotalSeconds;
                var run = RunSummary.Parse(File.ReadAllText(record), record);
                var jobs = run.Where(JobOutcome.Ran).ToList();
                local ??= wall;
                report.Add($"pipelines/ci.yaml to Pack, {executor} executor", wall, "s",
                    $"{jobs.Count} jobs, their own times summed {jobs.Sum(j => j.Seconds):F1} s; {wall / local.Value:F2}x the local executor" +
                    (executor == "slurm" ? "; poll_seconds 10 (the default)" : ""));
            }
            finally { Directory.Delete(store, recursive: true); }
        }
        return report;
    }
}
