using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// One layer's Score candidates on the device, built once. A block is run as its attention half then its FFN half
/// (x + attn(norm x), then h + ffn(norm h): the whole block exactly), and a layer holds only its variants' own halves:
/// where a candidate keeps the parent's attention or FFN (a decoupled variant's other subblock, a pairing's parent
/// half), that half is the parent's block itself, not a copy (at the 1B shape such copies were 2.9B parameters over 16
/// layers beside 0.9B of variants). Each attention half runs once for all the FFN halves it is paired with: a pairing
/// holds |A| + |F| halves rather than |A|·|F| blocks. A coupled variant is one whole block.
/// </summary>
public sealed class CandidateBlocks : IDisposable
{
    readonly IReadOnlyList<ScoreCandidate> _candidates;
    readonly DecoderBlock _parent;
    readonly Dictionary<string, DecoderBlock> _blocks = new(StringComparer.Ordinal);

    /// <param name="parent">the parent's block at the layer: its halves run in the candidates that keep them (not disposed here)</param>
    /// <param name="weightsOf">a variant's BLD weights file, or null where it has nothing trained</param>
    public CandidateBlocks(ModelConfig config, DecoderBlock parent, IReadOnlyList<ScoreCandidate> candidates, Func<BlockVariant, string?> weightsOf)
    {
        (_candidates, _parent) = (candidates, parent);
        try
        {
            foreach (var part in candidates.SelectMany(Own).Where(p => !_blocks.ContainsKey(p.Id)))
                _blocks[part.Id] = LibraryBlock.Alone(config, parent, part, weightsOf(part));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A candidate's halves: the variant's own, or null where it keeps the parent's.</summary>
    static (BlockVariant? Attention, BlockVariant? Ffn) Halves(ScoreCandidate c) => c.Pair is { } p
        ? (p.Attention.IsParent ? null : p.Attention, p.Ffn.IsParent ? null : p.Ffn)
        : c.Variant!.Subblock == Subblock.Attention ? (c.Variant, null) : (null, c.Variant);

    /// <summary>The blocks a candidate needs built: a coupled variant's whole block, or its halves that are not the parent's.</summary>
    static IEnumerable<BlockVariant> Own(ScoreCandidate c) => c.Variant is { Subblock: Subblock.Block } whole
        ? [whole]
        : new[] { Halves(c).Attention, Halves(c).Ffn }.OfType<BlockVariant>();

    /// <summary>Runs every candidate on the layer's input <paramref name="x"/> and hands <paramref name="each"/> its id
    /// and the layer's output with it in place; tensors made in between are freed after each call.</summary>
    public void Forward(Tensor x, Tensor cos, Tensor sin, int layer, Action<string, Tensor> each)
    {
        foreach (var c in _candidates.Where(c => c.Variant is { Subblock: Subblock.Block }))
        {
            using var scope = NewDisposeScope();
            each(c.Id, _blocks[c.Id].Forward(x, cos, sin, null, layer));
        }
        foreach (var byAttention in _candidates.Where(c => c.Variant is not { Subblock: Subblock.Block }).GroupBy(c => Halves(c).Attention?.Id ?? ""))
        {
            using var scope = NewDisposeScope();
            var h = byAttention.Key.Length > 0 ? _blocks[byAttention.Key].Forward(x, cos, sin, null, layer)
                : _parent.self_attn is null ? x : x.add(_parent.AttentionOutput(x, cos, sin, null, layer), Runtime.Scalars.One);
            foreach (var c in byAttention)
            {
                using var inner = NewDisposeScope();
                each(c.Id, Halves(c).Ffn is { } ffn ? _blocks[ffn.Id].Forward(h, cos, sin, null, layer)
                    : _parent.mlp is null ? h : h.add(_parent.FfnOutput(h), Runtime.Scalars.One));
            }
        }
    }

    /// <summary>The parameters the candidates hold of their own (the parent's block is not counted: they share it).</summary>
    internal long OwnParameters => _blocks.Values.Sum(b => b.parameters().Sum(p => p.numel()));

    public void Dispose()
    {
        foreach (var b in _blocks.Values) b.Dispose();
        _blocks.Clear();
    }
}
