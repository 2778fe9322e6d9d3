namespace Puzzle.Engine.Library;

/// <summary>
/// What the library offers at one layer besides the parent's own subblocks: GQA attention with each of
/// <paramref name="KvHeads"/> key/value heads, a linear layer, no attention; SwiGLU FFNs at each of
/// <paramref name="FfnRatios"/> of the parent's width (rounded to a multiple of <paramref name="FfnRoundTo"/>), a linear
/// layer, no FFN. The search space resolves one per layer (its per-layer overrides applied).
/// </summary>
public sealed record LayerAlternatives(IReadOnlyList<int> KvHeads, bool LinearAttention, bool NoOpAttention,
    IReadOnlyList<double> FfnRatios, int FfnRoundTo, bool LinearFfn, bool NoOpFfn);
