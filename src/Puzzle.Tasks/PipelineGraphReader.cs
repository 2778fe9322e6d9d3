using System.Diagnostics;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Tasks;

/// <summary>Runs <c>puzzle graph PIPELINE --json [--target STAGE]</c> and reads its <see cref="GraphDocument"/>; and
/// <c>puzzle forget</c> before it, for <c>PuzzleRerun</c>.</summary>
internal static class PipelineGraphReader
{
    /// <param name="target">a stage: the document then lists only the jobs it needs; null or empty for every job</param>
    /// <param name="device">cpu or cuda instead of the spec's device; null or empty for the spec's</param>
    internal static GraphDocument Read(string dotnet, string cli, string pipeline, string? store, string? target, string? device = null) =>
        GraphDocument.Parse(Cli(dotnet, cli, ["graph", pipeline, "--json"], store, target, device), $"puzzle graph {pipeline} --json");

    /// <summary>Removes the cached jobs of <paramref name="stages"/> (comma-separated) and every job after them in the
    /// target, as <c>puzzle run --rerun</c> does before it runs; returns what the CLI said it removed.</summary>
    internal static string Forget(string dotnet, string cli, string pipeline, string? store, string? target, string? device, string stages) =>
        Cli(dotnet, cli, ["forget", pipeline, stages], store, target, device).Trim();

    /// <summary>The CLI's standard output; its standard error as the exception's message when it fails.</summary>
    static string Cli(string dotnet, string cli, string[] verb, string? store, string? target, string? device)
    {
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in verb.Prepend(cli)) start.ArgumentList.Add(a);
        if (!string.IsNullOrEmpty(store)) { start.ArgumentList.Add("--store"); start.ArgumentList.Add(store!); }
        if (!string.IsNullOrEmpty(device)) { start.ArgumentList.Add("--device"); start.ArgumentList.Add(device!); }
        if (!string.IsNullOrEmpty(target)) { start.ArgumentList.Add("--target"); start.ArgumentList.Add(target!); }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {dotnet}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException(stderr.Result.Trim());
        return stdout.Result;
    }
}
