using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The multiple-choice task Evaluate makes from held-out text: pick the true next words among spans of other text.</summary>
[Description("A multiple-choice task made from the evaluation text, so every pipeline reports one without downloads: " +
             "each question is a held-out passage, the choices its true next words and as many words from other held-out passages.")]
public sealed record NextSpanSpec
{
    [Description("Questions at most (fewer when the evaluation text runs out); 0 leaves the task out.")]
    [Bounds(Minimum = 0)]
    public int Examples { get; init; } = 200;

    [Description("Choices per question, the true continuation included.")]
    [Bounds(Minimum = 2, Maximum = 16)]
    public int Choices { get; init; } = 4;

    [Description("Words per choice.")]
    [Bounds(Minimum = 1, Maximum = 64)]
    public int SpanWords { get; init; } = 8;
}
