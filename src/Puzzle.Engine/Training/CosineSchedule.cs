namespace Puzzle.Engine.Training;

/// <summary>Linear warm-up to the peak learning rate, then cosine decay to <c>peak × minRatio</c>.</summary>
public sealed record CosineSchedule(double Peak, long TotalSteps, long WarmupSteps, double MinRatio = 0.1)
{
    public double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        var decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Min(1.0, (double)(step - WarmupSteps) / decaySteps);
        var min = Peak * MinRatio;
        return min + 0.5 * (Peak - min) * (1 + Math.Cos(Math.PI * progress));
    }
}
