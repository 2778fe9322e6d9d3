using System.ComponentModel;
using Puzzle.Engine.Library;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>How each variant's replace-1-block quality is measured.</summary>
[Description("Replace-1-block scoring: the parent with one block swapped for a variant, measured on held-out text.")]
public sealed record ScoringSpec
{
    [Description("kl: KL from the parent's outputs; lm_loss: the loss on the text the replacement adds; top1: how often the top-1 token disagrees with the parent's (1 − agreement), not accuracy on the text.")]
    public ScoringMetric Metric { get; init; } = ScoringMetric.Kl;

    [Description("subblocks: each attention and FFN variant is scored alone next to the parent's other subblock, and a " +
                 "layer's predicted quality is the sum of its two scores (|A| + |F| − 2 scorings per layer); combined: every " +
                 "attention × FFN pairing of a layer is scored as one block, as the paper scores blocks, and the search uses the " +
                 "chosen pairing's own score, so interactions such as no-op + no-op dropping the layer are seen (|A|·|F| − 1 " +
                 "scorings per layer). With bld.mode coupled the library's variants are whole blocks and are scored whole either way.")]
    public ScoreBlocks Blocks { get; init; } = ScoreBlocks.Subblocks;

    [Description("Held-out tokens each variant is scored on.")]
    [Bounds(Minimum = 1)]
    public long Tokens { get; init; } = 20_000;

    [Description("Layers one process scores from one pass of the parent per batch (0: all). Results do not depend on it, " +
                 "so no job key does: it trades memory (every variant of those layers at once) for passes.")]
    [Bounds(Minimum = 0)]
    public int LayersPerProcess { get; init; }
}
