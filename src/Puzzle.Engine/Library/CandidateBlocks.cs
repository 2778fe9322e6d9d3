using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// One layer's Score candidates on the device, built once. A library variant is one block (the variant in place of
/// its subblock). A pairing is run as its attention half then its FFN half (x + attn(norm x), then h + ffn(norm h): the
/// whole block exactly), so a layer holds |A| + |F| half blocks rather than |A|·|F| blocks, and each attention half
/// runs once for all the FFN variants it is paired with.
/// </summary>
public sealed class CandidateBlocks : IDisposable
{
    readonly IReadOnlyList<ScoreCandidate> _candidates;
    readonly Dictionary<string, DecoderBlock> _blocks = new(StringComparer.Ordinal);

    /// <param name="parent">the parent's block at the layer</param>
    /// <param name="weightsOf">a variant's BLD weights file, or null where it has nothing trained</param>
    public CandidateBlocks(ModelConfig config, DecoderBlock parent, IReadOnlyList<ScoreCandidate> candidates, Func<BlockVariant, string?> weightsOf)
    {
        _candidates = candidates;
        try
        {
            foreach (var c in candidates)
            {
                if (c.Variant is { } v) _blocks[v.Id] = LibraryBlock.Build(config, parent, v, weightsOf(v));
                else
                    foreach (var half in c.Parts.Where(p => !_blocks.ContainsKey(p.Id)))
                        _blocks[half.Id] = LibraryBlock.Alone(config, parent, half, weightsOf(half));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Runs every candidate on the layer's input <paramref name="x"/> and hands <paramref name="each"/> its id
    /// and the layer's output with it in place; tensors made in between are freed after each call.</summary>
    public void Forward(Tensor x, Tensor cos, Tensor sin, int layer, Action<string, Tensor> each)
    {
        foreach (var c in _candidates.Where(c => c.Variant is not null))
        {
            using var scope = NewDisposeScope();
            each(c.Id, _blocks[c.Id].Forward(x, cos, sin, null, layer));
        }
        foreach (var byAttention in _candidates.Where(c => c.Pair is not null).GroupBy(c => c.Pair!.Attention.Id))
        {
            using var scope = NewDisposeScope();
            var h = _blocks[byAttention.Key].Forward(x, cos, sin, null, layer);
            foreach (var c in byAttention)
            {
                using var inner = NewDisposeScope();
                each(c.Id, _blocks[c.Pair!.Ffn.Id].Forward(h, cos, sin, null, layer));
            }
        }
    }

    public void Dispose()
    {
        foreach (var b in _blocks.Values) b.Dispose();
        _blocks.Clear();
    }
}
