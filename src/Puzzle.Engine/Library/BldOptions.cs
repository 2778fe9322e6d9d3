using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Library;

/// <summary>One variant's BLD settings: the spec's bld training settings with the last matching per-variant override
/// applied, and how its linear replacements start.</summary>
public sealed record BldOptions(TrainingSpec Training, LinearInit Init)
{
    public static BldOptions For(BldSpec bld, string variantId)
    {
        var match = bld.Variants.LastOrDefault(v => Matches(v.Match, variantId));
        return new BldOptions(bld.Training with { Tokens = match?.Tokens ?? bld.Training.Tokens, Lr = match?.Lr ?? bld.Training.Lr }, bld.Init);
    }

    /// <summary><c>layerN|*</c> . <c>attention|ffn|block|*</c> . <c>variant|*</c>: each of the three parts equal or <c>*</c>.</summary>
    public static bool Matches(string pattern, string variantId)
    {
        var p = pattern.Split('.', 3); // the variant part may hold a dot itself (ratio0.5)
        var v = variantId.Split('.', 3);
        return p.Length == v.Length && p.Zip(v).All(x => x.First == "*" || x.First == x.Second);
    }

    public int Batch => Training.Batch;
    public long Seed => Training.Seed;
    public TrainOptions Train => Training.Options;
}
