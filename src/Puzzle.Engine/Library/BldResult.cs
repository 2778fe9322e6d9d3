using Puzzle.Engine.Training;
using TorchSharp;

namespace Puzzle.Engine.Library;

/// <summary>A trained variant: its weights under the checkpoint's names, and how well it imitates the parent.</summary>
public sealed record BldResult(
    IReadOnlyDictionary<string, torch.Tensor> Weights,
    IReadOnlyDictionary<string, double> InitNmse, string Initialiser, double InitialNmse, double FinalNmse,
    IReadOnlyList<CurvePoint> Curve, double TokensPerSecond);
