using System.CommandLine;
using System.Reflection;
using Puzzle.Engine.Pipeline;

namespace Puzzle.Cli.Commands;

/// <summary>Arguments shared by the pipeline verbs.</summary>
public static class PipelineOptions
{
    public static Argument<FileInfo> Spec() => new("pipeline") { Description = "pipeline spec (pipelines/*.yaml)" };
    public static Option<string?> Target() => new("--target") { Description = "stage to build, with everything it needs (default: all)" };
    public static Option<DirectoryInfo?> Store() => new("--store") { Description = "cache store (default: .puzzle/ beside pipelines/)" };

    public static PipelineSession Open(FileInfo spec, DirectoryInfo? store)
    {
        if (!spec.Exists) throw new FileNotFoundException($"{spec.FullName}: pipeline spec not found");
        return PipelineSession.Open(spec.FullName, store?.FullName);
    }

    /// <summary>How to start this CLI again as a job process: the app host, or <c>dotnet puzzle.dll</c>.</summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        var process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Assembly.GetEntryAssembly()?.Location ?? typeof(PipelineOptions).Assembly.Location]
            : [process];
    }
}
