namespace Puzzle.Engine.Training;

/// <summary>AdamW with warm-up and cosine decay, gradient clipping and a token budget.</summary>
public sealed record TrainOptions
{
    public required long Tokens { get; init; }
    public required double LearningRate { get; init; }
    public long WarmupSteps { get; init; } = 10;
    public double MinLrRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Record the loss curve every this many steps.</summary>
    public int CurveEvery { get; init; } = 10;

    /// <summary>Optimizer steps the token budget gives at this many tokens per step.</summary>
    public long Steps(long tokensPerBatch) => Math.Max(1, (Tokens + tokensPerBatch - 1) / tokensPerBatch);

    /// <summary>A warning when warm-up takes half the run or more (the learning rate is at its peak, and decays, for
    /// little or none of it); null otherwise. <paramref name="section"/> names the spec section, e.g. <c>bld</c>.</summary>
    public string? WarmupWarning(long tokensPerBatch, string section)
    {
        var steps = Steps(tokensPerBatch);
        return WarmupSteps * 2 <= steps ? null
            : $"warning: {section}: {Tokens:N0} tokens are {steps} optimizer steps of {tokensPerBatch:N0} tokens, and warm-up takes " +
              $"{Math.Min(WarmupSteps, steps)} of them ({section}.warmup_steps: {WarmupSteps}): the learning rate " +
              (WarmupSteps >= steps ? "never reaches its peak" : "is at its peak for little of the run") +
              $"; raise {section}.tokens or lower {section}.warmup_steps";
    }
}

/// <summary>One point of a loss curve.</summary>
public sealed record CurvePoint(long Step, long Tokens, double Loss, double LearningRate);
