namespace Puzzle.Engine.Cost;

/// <summary>
/// What one piece of a model costs in the user's scenario: measured prefill time for the whole prompt batch, measured
/// decode time per generated token (with a KV cache), and its memory.
/// </summary>
public sealed record MeasuredCost(double PrefillSeconds, double DecodeSecondsPerToken, long Parameters, long ParameterBytes,
    long KvBytesPerToken)
{
    /// <summary>Time for one scenario request batch: the prefill, then <paramref name="generate"/> decode steps.</summary>
    public double ScenarioSeconds(int generate) => PrefillSeconds + generate * DecodeSecondsPerToken;
}
