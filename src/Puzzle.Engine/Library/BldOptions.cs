using Puzzle.Engine.Training;

namespace Puzzle.Engine.Library;

/// <summary>One variant's BLD settings: the trainer's options, the batch (sequences per step) and seed (batch order)
/// that every variant trained together shares, and how its linear replacements start.</summary>
public sealed record BldOptions(TrainOptions Train, int Batch, long Seed, LinearInit Init);
