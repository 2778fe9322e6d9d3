using System.Diagnostics;
using System.Text.Json;

namespace Puzzle.Tasks;

/// <summary>Runs <c>puzzle graph PIPELINE --json</c> and reads the stages and jobs.</summary>
internal static class PipelineGraphReader
{
    internal sealed record Job(string Stage, string Id, string Key);
    internal sealed record Stage(string Name, IReadOnlyList<string> Upstream, IReadOnlyList<Job> Jobs);
    internal sealed record Graph(string Pipeline, IReadOnlyList<Stage> Stages);

    internal static Graph Read(string dotnet, string cli, string pipeline, string? store)
    {
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { cli, "graph", pipeline, "--json" }) start.ArgumentList.Add(a);
        if (!string.IsNullOrEmpty(store)) { start.ArgumentList.Add("--store"); start.ArgumentList.Add(store!); }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {dotnet}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException(stderr.Result.Trim());
        var root = JsonDocument.Parse(stdout.Result).RootElement;
        var stages = root.GetProperty("stages").EnumerateArray().Select(s =>
        {
            var name = s.GetProperty("name").GetString()!;
            return new Stage(name,
                s.GetProperty("upstream").EnumerateArray().Select(u => u.GetString()!).ToList(),
                s.GetProperty("jobs").EnumerateArray().Select(j => new Job(name, j.GetProperty("id").GetString()!, j.GetProperty("key").GetString()!)).ToList());
        }).ToList();
        return new Graph(root.GetProperty("pipeline").GetString()!, stages);
    }
}
