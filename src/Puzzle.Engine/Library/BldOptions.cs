using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Library;

/// <summary>One variant's BLD settings: the spec's bld section with the last matching per-variant override applied.</summary>
public sealed record BldOptions(long Tokens, double Lr, int Batch, double WarmupFraction, double MinLrRatio, double WeightDecay,
    double GradClip, LinearInit Init, long Seed)
{
    public static BldOptions For(BldSpec bld, string variantId)
    {
        var match = bld.Variants.LastOrDefault(v => Matches(v.Match, variantId));
        return new BldOptions(match?.Tokens ?? bld.Tokens, match?.Lr ?? bld.Lr, bld.Batch, bld.WarmupFraction, bld.MinLrRatio,
            bld.WeightDecay, bld.GradClip, bld.Init, bld.Seed);
    }

    /// <summary><c>layerN|*</c> . <c>attention|ffn|block|*</c> . <c>variant|*</c>: each of the three parts equal or <c>*</c>.</summary>
    public static bool Matches(string pattern, string variantId)
    {
        var p = pattern.Split('.', 3); // the variant part may hold a dot itself (ratio0.5)
        var v = variantId.Split('.', 3);
        return p.Length == v.Length && p.Zip(v).All(x => x.First == "*" || x.First == x.Second);
    }

    public TrainOptions Train => new()
    {
        Tokens = Tokens, LearningRate = Lr, WarmupFraction = WarmupFraction, MinLrRatio = MinLrRatio,
        WeightDecay = WeightDecay, GradClip = GradClip,
    };
}
