using System.ComponentModel;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// The training settings bld, gkd and parent.pretrain share, written once: each section holds one with its own
/// defaults, flattened into the section's keys (<c>bld.lr</c>, <c>gkd.tokens</c>), and <see cref="OptionsAt"/> is the one
/// mapping to the trainer. A job that trains keys on the whole record, so a field added here reaches every key.
/// </summary>
public sealed record TrainingSpec
{
    [Description("Training tokens (per variant in bld).")]
    [Bounds(Minimum = 1)]
    public long Tokens { get; init; }

    [Description("Peak learning rate (AdamW).")]
    [Bounds(ExclusiveMinimum = 0)]
    public double Lr { get; init; }

    [Description("Sequences per optimizer step.")]
    [Bounds(Minimum = 1)]
    public int Batch { get; init; }

    [Description("Optimizer steps over which the learning rate rises to its peak, before the cosine decay. A count of steps, " +
                 "not a fraction: the first AdamW steps are the least reliable whatever the budget. A budget of under twice this " +
                 "many steps is warned about in the job's log.")]
    [Bounds(Minimum = 0)]
    [Replaces("warmup_fraction", "warm-up is a count of optimizer steps, not a fraction of the run")]
    public long WarmupSteps { get; init; } = 10;

    [Description("The learning rate at the end of the cosine decay, as a fraction of the peak.")]
    [Bounds(Minimum = 0, Maximum = 1)]
    public double MinLrRatio { get; init; } = 0.1;

    [Description("AdamW weight decay.")]
    [Bounds(Minimum = 0)]
    public double WeightDecay { get; init; }

    [Description("Gradient norm clip; 0 turns clipping off.")]
    [Bounds(Minimum = 0)]
    public double GradClip { get; init; } = 1.0;

    [Description("Random seed for batch order (and, for a pretrained parent, its initialisation).")]
    [Bounds(Minimum = 0)]
    public long Seed { get; init; }

    [Description("Hidden size up to which lr is the peak learning rate as given. For a wider model the peak is lr × " +
                 "lr_reference_width / hidden_size, as μP scales AdamW's rate for hidden weights with width, so one default suits a " +
                 "192-wide parent and a 1B or 8B one (measured: benchmarks/results/bld-defaults.json). 0: lr as given at every width.")]
    [Bounds(Minimum = 0)]
    public int LrReferenceWidth { get; init; }

    /// <summary>The peak learning rate for a model of this hidden size (see <see cref="LrReferenceWidth"/>).</summary>
    public double LrAt(int hiddenSize) =>
        LrReferenceWidth > 0 && hiddenSize > LrReferenceWidth ? Lr * LrReferenceWidth / hiddenSize : Lr;

    /// <summary>The trainer's options for these settings, for a model of this hidden size: the one mapping to the trainer.</summary>
    public TrainOptions OptionsAt(int hiddenSize) => new()
    {
        Tokens = Tokens, LearningRate = LrAt(hiddenSize), WarmupSteps = WarmupSteps, MinLrRatio = MinLrRatio,
        WeightDecay = WeightDecay, GradClip = GradClip,
    };
}
