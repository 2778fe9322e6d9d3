using System.CommandLine;
using System.Reflection;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Cli.Commands;

/// <summary>Arguments shared by the pipeline verbs.</summary>
public static class PipelineOptions
{
    public static Argument<FileInfo> Spec() => new("pipeline") { Description = "pipeline spec (pipelines/*.yaml)" };
    public static Option<string?> Target() => new("--target") { Description = "stage to build, with everything it needs (default: all)" };
    public static Option<string[]> Rerun() => new("--rerun")
    {
        Description = "run these stages' jobs again although cached, and every job after them (e.g. Measure, after timings taken on a busy or another machine); comma-separated or repeated",
        HelpName = "STAGE",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>Stage names from repeated or comma-separated values; a <c>--rerun</c> given with none is an error, not
    /// a run that reruns nothing.</summary>
    /// <param name="what">what the values are called in the error (<c>puzzle forget</c>'s stage argument)</param>
    public static IReadOnlyList<string> Stages(string[]? values, string what = "--rerun")
    {
        var stages = (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToList();
        if (values is { Length: > 0 } && stages.Count == 0)
            throw new ArgumentException($"{what} '{string.Join(",", values)}' names no stage; give one or more, e.g. {(what == "--rerun" ? "--rerun " : "")}Measure");
        return stages;
    }

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

    /// <summary><c>--device cpu|cuda</c>: where the pipeline computes, instead of the spec's <c>device</c>.</summary>
    public static Option<string?> Device()
    {
        var option = new Option<string?>("--device") { Description = "compute device instead of the spec's device: cpu or cuda (scenario.device still wins for costs)" };
        option.AcceptOnlyFromAmong("cpu", "cuda");
        return option;
    }

    public static DeviceKind? ParseDevice(string? device) => device switch
    {
        null => null,
        "cpu" => DeviceKind.Cpu,
        "cuda" => DeviceKind.Cuda,
        _ => throw new ArgumentException($"--device must be cpu or cuda, got '{device}'"),
    };

    public static PipelineSession Open(FileInfo spec, DirectoryInfo? store, string? device = null)
    {
        var loaded = Load(spec);
        if (ParseDevice(device) is { } kind) loaded = loaded with { Device = kind, DeviceFromFlag = true };
        var session = PipelineSession.Open(loaded, store?.FullName);
        CliErrors.Store = session.Store.Root; // a full disk's error then says what this store holds
        return session;
    }

    /// <summary>The spec file, loaded and validated.</summary>
    public static PipelineSpec Load(FileInfo spec) =>
        spec.Exists ? SpecLoader.Load(spec.FullName)
        : Directory.Exists(spec.FullName) ? throw new FileNotFoundException($"{spec.FullName} is a folder; give a pipeline spec file" + SpecsIn(spec.FullName))
        : throw new FileNotFoundException($"{spec.FullName}: pipeline spec not found");

    static string SpecsIn(string folder) =>
        Directory.GetFiles(folder, "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } specs
            ? $" in it: {string.Join(", ", specs)}" : " (pipelines/NAME.yaml)";

    /// <summary>What a job process must be told so that it plans the same keys as the launcher (the overrides above).</summary>
    public static IReadOnlyList<string> JobArguments(string? device) => device is null ? [] : ["--device", device];

    /// <summary>
    /// The launcher for the executor the spec names (or <paramref name="executor"/> overrides): <c>puzzle job</c>
    /// processes here, or Slurm array tasks; either passes <paramref name="device"/> on to every job. Dispose it after
    /// the run: on Slurm that cancels what is still queued.
    /// </summary>
    public static IJobLauncher Launcher(PipelineSession session, string? executor, bool inProcess = false, string? device = null)
    {
        if (Kind(session, executor) == ExecutorKind.Slurm)
        {
            if (inProcess) throw new ArgumentException("--in-process runs jobs in this process; it cannot be combined with the slurm executor");
            return session.SlurmLauncher(SelfCommand(), Console.Error, JobArguments(device));
        }
        return inProcess
            ? session.InProcessLauncher()
            : new ProcessJobLauncher(SelfCommand(), session.Spec.SourcePath, session.Store.Root, Console.Error, JobArguments(device), session.JobEnvironment);
    }

    /// <summary>
    /// Runs <paramref name="session"/> up to <paramref name="target"/> with <see cref="Launcher"/>'s launcher, disposed
    /// after the run; the first Ctrl-C or SIGTERM cancels the run (see <see cref="Interrupt"/>) instead of killing it.
    /// </summary>
    public static RunSummary Run(PipelineSession session, string? target, CancellationToken outer, string? executor = null, bool inProcess = false,
        string? device = null, int? jobs = null, int? threadsPerJob = null, IReadOnlyList<string>? rerun = null)
    {
        using var interrupt = new Interrupt(outer);
        var launcher = Launcher(session, executor, inProcess, device);
        try { return session.RunAsync(target, launcher, Console.Error, interrupt.Token, jobs, threadsPerJob, rerun).GetAwaiter().GetResult(); }
        finally { (launcher as IDisposable)?.Dispose(); }
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
