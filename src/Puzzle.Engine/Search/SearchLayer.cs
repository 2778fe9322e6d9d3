namespace Puzzle.Engine.Search;

/// <summary>
/// The options of one layer. A decoupled layer picks exactly one of <see cref="Attention"/> and exactly one of
/// <see cref="Ffn"/>. A layer whose options are whole blocks (coupled BLD: each option is one attention × FFN
/// pairing) has an empty <see cref="Ffn"/> and its blocks in <see cref="Attention"/> — see <see cref="OfBlocks"/>;
/// exactly one block is picked and its <see cref="LayerChoice"/> has <c>Ffn == ""</c>.
/// </summary>
public sealed record SearchLayer(int Layer, IReadOnlyList<SearchOption> Attention, IReadOnlyList<SearchOption> Ffn)
{
    /// <summary>A layer whose options are whole blocks.</summary>
    public static SearchLayer OfBlocks(int layer, IReadOnlyList<SearchOption> blocks) => new(layer, blocks, []);

    /// <summary>True when the options are whole blocks (no separate FFN choice).</summary>
    public bool IsBlocks => Ffn.Count == 0;

    /// <summary>The options whose choice is a whole block: the attention options of a block layer.</summary>
    public IReadOnlyList<SearchOption> Blocks => IsBlocks ? Attention : [];
}
