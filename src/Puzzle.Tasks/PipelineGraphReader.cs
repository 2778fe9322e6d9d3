using System.Diagnostics;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Tasks;

/// <summary>Runs <c>puzzle graph PIPELINE --json [--target STAGE]</c> and reads its <see cref="GraphDocument"/>.</summary>
internal static class PipelineGraphReader
{
    /// <param name="target">a stage: the document then lists only the jobs it needs; null or empty for every job</param>
    /// <param name="device">cpu or cuda instead of the spec's device; null or empty for the spec's</param>
    internal static GraphDocument Read(string dotnet, string cli, string pipeline, string? store, string? target, string? device = null)
    {
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { cli, "graph", pipeline, "--json" }) start.ArgumentList.Add(a);
        if (!string.IsNullOrEmpty(store)) { start.ArgumentList.Add("--store"); start.ArgumentList.Add(store!); }
        if (!string.IsNullOrEmpty(device)) { start.ArgumentList.Add("--device"); start.ArgumentList.Add(device!); }
        if (!string.IsNullOrEmpty(target)) { start.ArgumentList.Add("--target"); start.ArgumentList.Add(target!); }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {dotnet}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException(stderr.Result.Trim());
        return GraphDocument.Parse(stdout.Result, $"puzzle graph {pipeline} --json");
    }
}
