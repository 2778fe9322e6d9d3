using System.ComponentModel;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The inference scenario block costs are measured (or modelled) in.</summary>
[Description("The inference scenario: device, batch and sequence lengths that block costs are measured in.")]
public sealed record ScenarioSpec
{
    [Description("Where costs are measured: the inference target. Default: the pipeline's device.")]
    public DeviceKind? Device { get; init; }

    [Description("Sequences generated at once.")]
    [Bounds(Minimum = 1)]
    public int Batch { get; init; } = 8;

    [Description("Prompt tokens per sequence (prefill).")]
    [Bounds(Minimum = 1)]
    public int Prompt { get; init; } = 128;

    [Description("Generated tokens per sequence (decode).")]
    [Bounds(Minimum = 1)]
    public int Generate { get; init; } = 64;

    [Description("Timed repetitions per measurement, after the warm-up; the fastest prefill and each decode step's fastest run are kept (what other work on the machine disturbed least).")]
    [Bounds(Minimum = 1)]
    public int Repeats { get; init; } = 5;

    [Description("Untimed repetitions before timing.")]
    [Bounds(Minimum = 0)]
    public int Warmup { get; init; } = 2;

    [Description("Model costs with the roofline of this hardware's data sheet instead of measuring them (for hardware that is not here): h100-sxm, h100-pcie, h200, a100-sxm-80gb or l40s. The search then chooses by the roofline, and the report and model card say the predicted speedups are modelled.")]
    [Pattern("^[a-z0-9][a-z0-9_.-]*$", Hint = "a hardware name like h100-sxm")]
    public string? Target { get; init; }

    [Description("How timed steps run, and so what measured costs and speeds describe: eager (every kernel launched on its own, as TorchSharp and PyTorch run eagerly) or cuda_graphs (on a CUDA device: the prefill and each decode step replayed as one CUDA graph, as serving runtimes such as vLLM decode, so costs follow bytes moved and FLOPs rather than kernel launches; every eighth decode step and the last are captured and timed, the others interpolated).")]
    public TimingRuntime Runtime { get; init; } = TimingRuntime.Eager;

    /// <summary>The scenario as costs read it: where they are a roofline (<see cref="Target"/>) nothing is timed, so how
    /// timing would run (repeats, warmup, runtime) takes its defaults and enters no key of Measure, Search or Sweep; the
    /// Speed job, which times on this machine, keeps them.</summary>
    public ScenarioSpec AsCosted() => Target is null ? this : this with { Repeats = Defaults.Repeats, Warmup = Defaults.Warmup, Runtime = Defaults.Runtime };

    static readonly ScenarioSpec Defaults = new();

    /// <summary>What the cost meter runs at each measurement: these prompt and generated tokens, warm-up and repeats, in this runtime.</summary>
    public TimingScenario Timing() => new(Prompt, Generate, Warmup, Repeats, Runtime);
}
