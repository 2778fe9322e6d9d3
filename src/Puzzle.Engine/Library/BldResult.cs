using Puzzle.Engine.Training;
using TorchSharp;

namespace Puzzle.Engine.Library;

/// <summary>A trained variant: its weights under the checkpoint's names, and how well it imitates the parent.</summary>
/// <param name="FinalNmse">held-out normalized MSE of the published weights: the best seen, the initialisation included</param>
/// <param name="Heldout">held-out normalized MSE at step 0 and every few steps: how the published weights were chosen</param>
/// <param name="BestStep">the step whose weights are published (0: training never beat the initialisation)</param>
/// <param name="LastNmse">held-out normalized MSE of the weights after the last step</param>
/// <param name="TrainSeconds">wall time of the training loop this variant shared with the others trained beside it</param>
public sealed record BldResult(
    IReadOnlyDictionary<string, torch.Tensor> Weights,
    IReadOnlyDictionary<string, double> InitNmse, string Initialiser, double InitialNmse, double FinalNmse,
    IReadOnlyList<CurvePoint> Curve, double TokensPerSecond, IReadOnlyList<HeldoutPoint> Heldout, long BestStep, double LastNmse, double TrainSeconds)
{
    /// <summary>How the variant was trained: <see cref="Gradient"/>, or <see cref="LeastSquaresFit"/> for a linear
    /// subblock fitted in closed form over the training tokens (<see cref="LinearFit"/>).</summary>
    public string Training { get; init; } = Gradient;

    public const string Gradient = "adamw";
    public const string LeastSquaresFit = "least_squares_fit";
}
