using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// What a running job sees: its plan (whose config record is all it reads of the spec), its inputs' published folders,
/// where to write, and the devices to compute on. The spec itself stays with the executor: it names the devices in
/// errors, and nothing else of it reaches a job.
/// </summary>
public sealed class JobContext(JobPlan job, PipelineSpec spec, CacheStore store, string outputDirectory, TextWriter log, int threads)
{
    public JobPlan Job { get; } = job;
    /// <summary>A temporary folder: published atomically as the job's cache entry when <see cref="Stage.Run"/> returns.</summary>
    public string OutputDirectory { get; } = outputDirectory;
    public TextWriter Log { get; } = log;
    public int Threads { get; } = threads;
    /// <summary>
    /// Where the job computes (the spec's <c>device</c>), checked on first use: stages that never touch torch (Fetch,
    /// Data, Report: <see cref="Stage.UsesTorch"/>) never load it, and a job asked to run on CUDA where there is none fails with the remedy.
    /// </summary>
    public ComputeDevice Device => _device ??= ComputeDevice.Open(spec.Device, spec.DeviceFromFlag ? "--device" : $"{Where(spec)}: device",
        ComputeDevice.ScalarTypeOf(spec.Dtype));
    /// <summary>Where costs are measured (<c>scenario.device</c>, else <c>device</c>), in the spec's <c>dtype</c>.</summary>
    public ComputeDevice CostDevice => _costDevice ??= ComputeDevice.Open(CostKind(spec),
        spec.Scenario.Device is null && spec.DeviceFromFlag ? "--device" : $"{Where(spec)}: {(spec.Scenario.Device is null ? "device" : "scenario.device")}",
        ComputeDevice.ScalarTypeOf(spec.Dtype));
    ComputeDevice? _device, _costDevice;

    /// <summary>The device kind a pipeline's costs are measured on: <c>scenario.device</c>, else its <c>device</c>.</summary>
    public static DeviceKind CostKind(PipelineSpec spec) => spec.Scenario.Device ?? spec.Device;

    static string Where(PipelineSpec spec) => spec.SourcePath.Length > 0 ? spec.SourcePath : spec.Name;
    /// <summary>The device the job asked for, if any: recorded in its manifest's metrics.</summary>
    internal ComputeDevice? UsedDevice => _device ?? _costDevice;
    /// <summary>Numbers the job reports; stored in its manifest.</summary>
    public JsonObject Metrics { get; } = new();

    readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    double _phaseStart;

    /// <summary>Ends a phase of the job (loading, training, saving, …) that began where the last one ended (or the
    /// job began): its wall seconds go to the manifest's <c>phase_seconds</c> and the log, so a slow job says where its
    /// time went.</summary>
    /// <param name="log">false records it without a log line (jobs built together share one log)</param>
    public void PhaseDone(string name, bool log = true)
    {
        var now = _clock.Elapsed.TotalSeconds;
        if (Metrics["phase_seconds"] is not JsonObject phases) Metrics["phase_seconds"] = phases = new JsonObject();
        phases[name] = Math.Round(now - _phaseStart, 3);
        if (log) Log.WriteLine($"{name}: {now - _phaseStart:F1} s");
        _phaseStart = now;
    }

    /// <summary>The published folder of the input named <paramref name="name"/>.</summary>
    public string Input(string name)
    {
        if (!Job.Inputs.TryGetValue(name, out var input))
            throw new InvalidOperationException($"{Job.Name} has no input named '{name}'");
        return store.Find(input.Key)?.Directory
               ?? throw new InvalidOperationException($"{Job.Name}: input {input.Name} ({input.Key[..12]}) is not in the cache");
    }

    public string Output(string relative) => Path.Combine(OutputDirectory, relative);

    /// <summary>The manifest of the published entry of <paramref name="key"/>, or null where the store has none.</summary>
    public JobManifest? Built(string key) => store.Find(key)?.Manifest;

    /// <summary>A folder for state that outlives a killed process (e.g. training checkpoints), kept per job key
    /// until the job is published: a rerun of the same job finds it there and resumes.</summary>
    public string ResumeDirectory => store.ResumeDirectory(Job.Key);
}
