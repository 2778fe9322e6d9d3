namespace Puzzle.Engine.Cost;

/// <summary>
/// One model's timings in a scenario: the prefill, and each decode step's time (step t reads a KV cache of the prompt
/// and t generated tokens). Timings of the same model combine step by step (<see cref="Faster"/>): a disturbance from
/// other work on the machine spoils only the steps it overlaps, so another run's clean steps replace them. On a
/// shared 2-core machine, with eight runs per model, the fastest whole decode varied between processes by up to 23%
/// for one model's speedup over the parent; each step's fastest, from the same runs, by up to 9%.
/// </summary>
public sealed record StepTimes(double Prefill, IReadOnlyList<double> Decode)
{
    /// <summary>Seconds per generated token: the steps' mean.</summary>
    public double DecodePerToken => Decode.Count == 0 ? 0 : Decode.Sum() / Decode.Count;

    /// <summary>The fastest prefill of the two and, for every decode step, its faster time.</summary>
    public StepTimes Faster(StepTimes other)
    {
        if (other.Decode.Count != Decode.Count)
            throw new ArgumentException($"timings of {Decode.Count} and {other.Decode.Count} decode steps do not combine", nameof(other));
        return new StepTimes(Math.Min(Prefill, other.Prefill), [.. Decode.Zip(other.Decode, Math.Min)]);
    }
}
