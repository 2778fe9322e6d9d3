using System.Globalization;
using System.Text;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// What can be known about a run before any job starts, checked on the machine that launches the jobs: a problem here
/// is one error, pointing at the spec's field or the command-line flag it came from, and nothing starts. (The spec
/// loader already checks what needs no runtime: kv_heads against the parent's config, paths, ranges.)
/// </summary>
public static class PreLaunchChecks
{
    /// <param name="toRun">the jobs this run would start (those not cached)</param>
    /// <exception cref="SpecException">the spec asks for what this machine cannot do</exception>
    /// <exception cref="InvalidOperationException">a command-line flag asks for what this machine cannot do</exception>
    public static void Run(PipelineSpec spec, IReadOnlyList<JobPlan> toRun)
    {
        // computing jobs follow device (or --device); timings (Measure, Search's closed loop, Speed) follow scenario.device when set
        var onCuda = toRun.Where(j => j.Stage.ComputesOn(spec) == DeviceKind.Cuda).ToList();
        var (field, fromFlag) = spec.Device == DeviceKind.Cuda ? ("device", spec.DeviceFromFlag) : ("scenario.device", false);
        var timing = toRun.Where(j => j.Stage is MeasureStage or SearchStage or SpeedStage).Select(j => j.Stage.Name).Distinct().ToList();
        if (spec.Scenario.Runtime == TimingRuntime.CudaGraphs && timing.Count > 0 && JobContext.CostKind(spec) != DeviceKind.Cuda)
            throw new SpecException([SpecLoader.ErrorAt(spec, "scenario.runtime",
                $"scenario.runtime is cuda_graphs, but timings ({string.Join(", ", timing)}) run on {ComputeDevice.Name(JobContext.CostKind(spec))} " +
                "(scenario.device, else device or --device): CUDA graphs need a CUDA device. Set runtime: eager, or time on cuda; nothing was started.")]);
        if (!spec.Constraints.HasAny() && toRun.Any(j => j.Stage is SearchStage))
            throw new SpecException([SpecLoader.ErrorAt(spec, "constraints",
                "constraints gives no limit, so the search would choose the parent itself: give one, such as throughput_vs_parent: 1.5, " +
                "latency_ms, memory_vs_parent or params_vs_parent; nothing was started.")]);
        if (MetByTheParent(spec.Constraints) is { } met && toRun.Any(j => j.Stage is SearchStage))
            throw new SpecException([SpecLoader.ErrorAt(spec, "constraints",
                $"constraints asks nothing the parent does not meet already ({met}), so the search would choose the parent itself: " +
                "ask for more than the parent, such as throughput_vs_parent above 1, memory_vs_parent or params_vs_parent below 1; nothing was started.")]);
        if (toRun.Any(j => j.Stage is SearchStage) && SmallestChild.Unreachable(spec) is { Count: > 0 } unreachable)
            throw new SpecException(unreachable);
        if (spec.Pack.Source is { } source && toRun.Any(j => j.Stage is PublishStage)
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(spec.Pack.ApiKeyEnv)))
            throw new SpecException([SpecLoader.ErrorAt(spec, "pack.api_key_env",
                $"pack.source {source} needs an API key, but the environment variable {spec.Pack.ApiKeyEnv} (pack.api_key_env) is not set " +
                "here: set it (a CI secret), or publish to the folder pack.feed without pack.source; nothing was started.")]);
        if (onCuda.Count > 0) Cuda(spec, onCuda, field, fromFlag, timing);
        // Slurm's jobs run on other machines than the one that launches them: their memory is not known here
        if (spec.Executor.Kind != ExecutorKind.Slurm)
            Memory(spec, toRun, PlanMemory.Of);
    }

    /// <summary>The constraints, when every one given compares with the parent and the parent meets it (throughput_vs_parent
    /// of at most 1, memory_vs_parent or params_vs_parent of at least 1); null when one asks for more, or names an absolute
    /// limit, which only Measure's costs can compare.</summary>
    static string? MetByTheParent(ConstraintsSpec c)
    {
        if (!c.HasAny() || c.LatencyMs is not null || c.MemoryBytes is not null || c.ThroughputTokensPerS is not null) return null;
        if (c.ThroughputVsParent is > 1 || c.MemoryVsParent is < 1 || c.ParamsVsParent is < 1) return null;
        static string F(double x) => x.ToString(CultureInfo.InvariantCulture);
        return string.Join(", ", new[]
        {
            c.ThroughputVsParent is { } t ? $"throughput_vs_parent: {F(t)}" : null,
            c.MemoryVsParent is { } m ? $"memory_vs_parent: {F(m)}" : null,
            c.ParamsVsParent is { } p ? $"params_vs_parent: {F(p)}" : null,
        }.OfType<string>());
    }

    /// <summary>CUDA asked for where this process sees none, or CUDA graphs where they cannot run.</summary>
    static void Cuda(PipelineSpec spec, List<JobPlan> onCuda, string field, bool fromFlag, List<string> timing)
    {
        ComputeDevice cudaDevice;
        try
        {
            cudaDevice = ComputeDevice.Open(DeviceKind.Cuda, fromFlag ? "--device" : field);
        }
        catch (InvalidOperationException e)
        {
            var message = $"{e.Message} {onCuda.Count} job{(onCuda.Count == 1 ? "" : "s")} " +
                          $"({string.Join(", ", onCuda.Select(j => j.Stage.Name).Distinct())}) would run on CUDA; nothing was started.";
            if (fromFlag) throw new InvalidOperationException(message, e);
            throw new SpecException([SpecLoader.ErrorAt(spec, field, message)]);
        }
        if (spec.Scenario.Runtime == TimingRuntime.CudaGraphs && timing.Count > 0 && CudaGraphs.Unavailable(cudaDevice, replay: false) is { } why)
            throw new SpecException([SpecLoader.ErrorAt(spec, "scenario.runtime",
                $"scenario.runtime is cuda_graphs, but CUDA graphs cannot run here: {why}. Set runtime: eager; nothing was started.")]);
    }

    /// <summary>What <c>puzzle init</c> says beside a spec whose parent's weights alone outgrow the memory of the device
    /// they compute on, which <see cref="Memory"/> would refuse at the first run. Counted from the parent's config, with no
    /// plan: planning hashes the parent's weights, minutes at 70B. Null where they fit, or the memory is not known.</summary>
    public static string? ParentShortfall(PipelineSpec spec) => ParentShortfall(spec, PlanMemory.Of);

    internal static string? ParentShortfall(PipelineSpec spec, Func<DeviceKind, long?> memory)
    {
        if (spec.Executor.Kind == ExecutorKind.Slurm || memory(spec.Device) is not { } available) return null;
        var floor = MemoryFloor.Parent(spec, spec.Device);
        if (floor.Bytes <= available) return null;
        var cpu = spec.Device == DeviceKind.Cpu;
        return $"{floor.Holds} alone need more memory than {(cpu ? "this machine's" : "the GPU's")} {StoreUsage.Human(available)}, " +
               "so puzzle run refuses this spec here" + (cpu ? "; on a GPU (device: cuda), weights take half the bytes, in bfloat16" : "") +
               ". docs/scale.md (\"What fits where\") gives what each parent size needs.";
    }

    /// <summary>
    /// Refuses the run where one of its processes would hold more than its device has (<see cref="Stage.LeastMemory"/>:
    /// weights and training state alone, so such a job would certainly run out, minutes or hours into the run): one
    /// error at the spec's <c>parent</c>, naming every stage that does not fit, what its largest process holds, and
    /// what would make it fit.
    /// </summary>
    /// <param name="memory">a device's memory in bytes (null: not known, not checked)</param>
    internal static void Memory(PipelineSpec spec, IReadOnlyList<JobPlan> toRun, Func<DeviceKind, long?> memory)
    {
        var over = new List<(string Stage, DeviceKind Device, long Available, MemoryFloor Floor)>();
        foreach (var stage in toRun.Select(j => j.Stage).Distinct())
        {
            if (stage.ComputesOn(spec) is not { } device || memory(device) is not { } available) continue;
            var largest = stage.Processes(toRun.Where(j => j.Stage == stage).ToList(), spec)
                .Select(group => stage.LeastMemory(group, spec)).OfType<MemoryFloor>().MaxBy(f => f.Bytes);
            if (largest is not null && largest.Bytes > available) over.Add((stage.Name, device, available, largest));
        }
        if (over.Count == 0) return;

        var text = new StringBuilder();
        foreach (var device in over.GroupBy(o => o.Device))
        {
            var where = device.Key == DeviceKind.Cpu ? "this machine's" : "the GPU's";
            // stages that hold the same (the parent alone) are named together
            var stages = device.GroupBy(o => o.Floor.Holds).Select(same =>
                $"{string.Join(", ", same.Select(o => o.Stage))} at least {StoreUsage.Human(same.First().Floor.Bytes)} in a process ({same.Key})");
            text.Append(CultureInfo.InvariantCulture, $"{(text.Length == 0 ? "" : " ")}Jobs would need more memory than {where} " +
                                                      $"{StoreUsage.Human(device.First().Available)}: {string.Join("; ", stages)}.");
        }
        text.Append(" That counts weights and training state alone; activations come on top.");
        foreach (var remedy in over.Select(o => o.Floor.Remedy).OfType<string>().Distinct()) text.Append(' ').Append(remedy);
        if (over.Any(o => o.Device == DeviceKind.Cpu)) text.Append(" On a GPU (device: cuda), weights take half the bytes, in bfloat16.");
        if (over.Any(o => o.Device == DeviceKind.Cuda) && spec.Dtype == ComputeDType.Float32) text.Append(" dtype: bfloat16 halves every weight.");
        text.Append(" docs/scale.md (\"What fits where\") gives what each parent size needs; nothing was started.");
        throw new SpecException([SpecLoader.ErrorAt(spec, "parent", text.ToString())]);
    }
}
