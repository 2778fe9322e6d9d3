using Puzzle.Engine.Cost;
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
        if (onCuda.Count == 0) return;
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
}
