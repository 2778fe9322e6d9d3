using System.CommandLine;
using System.Reflection;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Cli.Commands;

/// <summary>Arguments shared by the pipeline verbs.</summary>
public static class PipelineOptions
{
    public static Argument<FileInfo> Spec() => new("pipeline") { Description = "pipeline spec (pipelines/*.yaml)" };
    public static Option<string?> Target() => new("--target") { Description = "stage to build, with everything it needs (default: all)" };
    public static Option<DirectoryInfo?> Store() => new("--store") { Description = "cache store (default: .puzzle/ beside pipelines/)" };
    public static Option<string?> Executor() =>
        new Option<string?>("--executor") { Description = "where jobs run: local or slurm (default: the spec's executor.kind)", HelpName = "local|slurm" }
            .AcceptOnlyFromAmong("local", "slurm");

    /// <summary>The executor the run uses: <c>--executor</c>, else the spec's <c>executor.kind</c>.</summary>
    public static ExecutorKind Kind(PipelineSession session, string? executor) => executor switch
    {
        "local" => ExecutorKind.Local,
        "slurm" => ExecutorKind.Slurm,
        _ => session.Spec.Executor.Kind,
    };

    public static PipelineSession Open(FileInfo spec, DirectoryInfo? store)
    {
        if (!spec.Exists) throw new FileNotFoundException($"{spec.FullName}: pipeline spec not found");
        return PipelineSession.Open(spec.FullName, store?.FullName);
    }

    /// <summary>
    /// The launcher for the executor the spec names (or <paramref name="executor"/> overrides): <c>puzzle job</c>
    /// processes here, or Slurm array tasks. Dispose it after the run: on Slurm that cancels what is still queued.
    /// </summary>
    public static IJobLauncher Launcher(PipelineSession session, string? executor, bool inProcess = false)
    {
        if (Kind(session, executor) == ExecutorKind.Slurm)
        {
            if (inProcess) throw new ArgumentException("--in-process runs jobs in this process; it cannot be combined with the slurm executor");
            return session.SlurmLauncher(SelfCommand(), Console.Error);
        }
        return inProcess
            ? session.InProcessLauncher()
            : new ProcessJobLauncher(SelfCommand(), session.Spec.SourcePath, session.Store.Root, Console.Error);
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
