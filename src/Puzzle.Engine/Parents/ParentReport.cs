using System.Text.Json;
using System.Text.Json.Serialization;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Parents;

/// <summary>What pretraining a parent produced: is it a real language model? Written beside the checkpoint.</summary>
public sealed record ParentReport
{
    public const string FileName = "parent_report.json";
    public required string Architecture { get; init; }
    public required long Parameters { get; init; }
    public required long TrainTokens { get; init; }
    public required double TrainSeconds { get; init; }
    public required double TrainTokensPerSecond { get; init; }
    public required int TorchThreads { get; init; }
    /// <summary>The checkpoint step a killed job's training resumed from (null: trained from the start in one go).
    /// <see cref="TrainSeconds"/> and the rate then count this last process alone.</summary>
    public long? ResumedFromStep { get; init; }
    public required LmMetrics Heldout { get; init; }
    /// <summary>Entropy (nats/token) of the held-out tokens' own unigram distribution: what a model that ignores context gets at best.</summary>
    public required double HeldoutUnigramEntropy { get; init; }
    public required string SamplePrompt { get; init; }
    public required string SampleGreedy { get; init; }
    public required IReadOnlyList<CurvePoint> LossCurve { get; init; }

    public static JsonSerializerOptions Json => PuzzleJson.Options;

    public string ToJson() => JsonSerializer.Serialize(this, Json) + "\n";
}
