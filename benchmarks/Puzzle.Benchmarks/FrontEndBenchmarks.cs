using System.Diagnostics;

namespace Puzzle.Benchmarks;

/// <summary>
/// Issue 3's numbers: wall time of a fully cached rerun of pipelines/ci.yaml through the CLI, Cake and MSBuild, and
/// the overhead each front end adds over the CLI. Run from the repository root after a Release build.
/// </summary>
public static class FrontEndBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("frontends");
        var root = Environment.CurrentDirectory;
        var cli = Path.Combine(root, "src", "Puzzle.Cli", "bin", "Release", "net10.0", "puzzle.dll");
        if (!File.Exists(cli)) throw new FileNotFoundException($"{cli}: build first (dotnet build Puzzle.sln -c Release)");
        const string spec = "pipelines/ci.yaml";
        Processes.Exec("dotnet", cli, "run", spec); // everything cached from here on
        var commands = new (string Name, string[] Command)[]
        {
            ("CLI: puzzle run", ["dotnet", cli, "run", spec]),
            ("CLI: puzzle status", ["dotnet", cli, "status", spec]),
            ("Cake: dotnet cake --no-build", ["dotnet", "cake", "--pipeline=" + spec, "--no-build"]),
            ("MSBuild: dotnet build PuzzleExample.proj", ["dotnet", "build", "examples/msbuild/PuzzleExample.proj", "-nologo", "-v:q"]),
        };
        double? baseline = null;
        foreach (var (name, command) in commands)
        {
            var seconds = Measure.MedianSeconds(() => Processes.Exec(command), warmup: 1, repeats: 5);
            baseline ??= seconds;
            report.Add($"cached rerun, {name}", seconds, "s", $"{spec}, median of 5; {seconds / baseline.Value:F1}x the CLI");
        }
        return report;
    }
}
