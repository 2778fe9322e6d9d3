using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
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
        var onCuda = toRun.Where(j => (string?)j.Config["device"] == ComputeDevice.Name(DeviceKind.Cuda)).ToList();
        if (onCuda.Count == 0) return;
        // costs follow scenario.device where the spec sets it; everything else follows device (or --device)
        var costsOnly = onCuda.All(j => j.Stage.Name == "Measure") && spec.Scenario.Device == DeviceKind.Cuda;
        var (field, fromFlag) = costsOnly ? ("scenario.device", false) : ("device", spec.DeviceFromFlag);
        try
        {
            ComputeDevice.Open(DeviceKind.Cuda, fromFlag ? "--device" : field);
        }
        catch (InvalidOperationException e)
        {
            var message = $"{e.Message} {onCuda.Count} job{(onCuda.Count == 1 ? "" : "s")} " +
                          $"({string.Join(", ", onCuda.Select(j => j.Stage.Name).Distinct())}) would run on CUDA; nothing was started.";
            if (fromFlag) throw new InvalidOperationException(message, e);
            throw new SpecException([SpecLoader.ErrorAt(spec, field, message)]);
        }
    }
}
