using System.ComponentModel;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// A whole compression described in one YAML file (<c>pipelines/*.yaml</c>): which parent, which text, which block
/// variants to distill, how to score and search them, and where the child goes. Load one with
/// <see cref="SpecLoader.Load"/>; every other section has defaults, so a spec needs little more than a name, a parent and data.
/// </summary>
[Description("A Puzzle compression pipeline: parent, data, search space, distillation, search and export.")]
public sealed record PipelineSpec
{
    [Description("The pipeline's name; names its outputs. Lowercase letters, digits, '_' and '-'.")]
    [Pattern("^[a-z0-9][a-z0-9_-]*$", Hint = "lowercase letters, digits, '_' and '-', starting with a letter or digit")]
    public required string Name { get; init; }

    [Description("The model to compress: an existing Hugging Face folder, or a small Llama to pretrain here.")]
    public required ParentSpec Parent { get; init; }

    [Description("The text for pretraining, distillation, scoring and evaluation.")]
    public required DataSpec Data { get; init; }

    // Compute and cost devices are separate fields on purpose: training and scoring run where the pipeline computes
    // (device), while costs must be measured on the inference target (scenario.device, which defaults to device).
    // Training on a GPU for a CPU deployment, or a Slurm executor sending Measure jobs to other nodes, needs both.
    [Description("Where the pipeline computes: cpu (float32) or cuda (bfloat16, float32 where accuracy needs it). Overridden by --device.")]
    public DeviceKind Device { get; init; } = DeviceKind.Cpu;

    [Description("The dtype the pipeline computes in: float32 or bfloat16 (default: float32 on cpu, bfloat16 on cuda). " +
                 "bfloat16 on cpu runs what cuda runs, slowly without AMX; float32 on cuda is exact, at twice the memory.")]
    public ComputeDType? Dtype { get; init; }

    [Description("The block variants each layer may take instead of the parent's.")]
    public SearchSpaceSpec SearchSpace { get; init; } = new();

    [Description("Block library distillation: training every variant to imitate the parent block it replaces.")]
    public BldSpec Bld { get; init; } = new();

    [Description("How each variant's replace-1-block quality is measured.")]
    public ScoringSpec Scoring { get; init; } = new();

    [Description("The inference scenario costs (latency, memory, throughput) are measured in.")]
    public ScenarioSpec Scenario { get; init; } = new();

    [Description("What the child must satisfy; the search maximises quality subject to these.")]
    public ConstraintsSpec Constraints { get; init; } = new();

    [Description("The architecture search over the scored block library.")]
    public SearchSpec Search { get; init; } = new();

    [Description("Global knowledge distillation of the assembled child from the parent.")]
    public GkdSpec Gkd { get; init; } = new();

    [Description("The final comparison of parent, child and baselines.")]
    public EvaluationSpec Evaluation { get; init; } = new();

    [Description("How the child is written as a Hugging Face model.")]
    public ExportSpec Export { get; init; } = new();

    [Description("The NuGet package the exported child is packed into.")]
    public PackSpec Pack { get; init; } = new();

    [Description("Where the pipeline's jobs run.")]
    public ExecutorSpec Executor { get; init; } = new();

    /// <summary>True when <see cref="Device"/> came from the command line's <c>--device</c>, so errors blame the flag.</summary>
    [NotInYaml]
    public bool DeviceFromFlag { get; init; }

    /// <summary>The file the spec was loaded from, as given to the loader.</summary>
    [NotInYaml]
    public string SourcePath { get; init; } = "";

    /// <summary>
    /// The folder the spec's relative paths are resolved against: the repository root (the folder holding
    /// <c>pipelines/</c>) when the file is in a <c>pipelines/</c> folder, else the file's own folder.
    /// </summary>
    [NotInYaml]
    public string BaseDirectory { get; init; } = "";

    /// <summary><paramref name="path"/> resolved against <see cref="BaseDirectory"/>.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.Combine(BaseDirectory, path));
}
