namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Simple compressions the evaluation compares the Puzzle child with, at the same cost.</summary>
public enum Baseline
{
    /// <summary>The same variant in every layer.</summary>
    Uniform,
    /// <summary>Drop the layers whose input and output are most alike (ShortGPT's block influence).</summary>
    [SpecName("shortgpt")] ShortGpt,
    /// <summary>Random variants that meet the constraints.</summary>
    Random,
}
