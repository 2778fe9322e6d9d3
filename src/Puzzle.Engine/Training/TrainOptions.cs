namespace Puzzle.Engine.Training;

/// <summary>AdamW with warm-up and cosine decay, gradient clipping and a token budget.</summary>
public sealed record TrainOptions
{
    public required long Tokens { get; init; }
    public required double LearningRate { get; init; }
    public double WarmupFraction { get; init; } = 0.05;
    public double MinLrRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.1;
    public double GradClip { get; init; } = 1.0;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Record the loss curve every this many steps.</summary>
    public int CurveEvery { get; init; } = 10;
}

/// <summary>One point of a loss curve.</summary>
public sealed record CurvePoint(long Step, long Tokens, double Loss, double LearningRate);
