using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// A library variant's block, as its BLD job trained it (<see cref="BlockVariant.AsBlock"/>): a decoupled variant's
/// subblock alone, the other subblock absent (a half block, run beside the parent's other half or a paired variant's:
/// see <see cref="CandidateBlocks"/>), a coupled variant's whole block. Weights come from the variant's BLD job (none
/// for a no-op) and from the parent.
/// </summary>
public static class LibraryBlock
{
    /// <param name="parent">the parent's block at the variant's layer; the block is made on its device, in its dtype</param>
    /// <param name="variantWeights">the BLD job's weights file, or null for a variant with nothing trained (no-op, the parent's own)</param>
    public static DecoderBlock Alone(ModelConfig config, DecoderBlock parent, BlockVariant variant, string? variantWeights) =>
        Build(config, parent, variant.Layer, variant.AsBlock, variantWeights is null ? [] : [variantWeights], variant.Id);

    static DecoderBlock Build(ModelConfig config, DecoderBlock parent, int layer, BlockConfig shape, IReadOnlyList<string> weightFiles, string id)
    {
        var reference = parent.parameters().First(); // built where the parent is, in its dtype
        var block = new DecoderBlock(config, shape, reference.device, reference.dtype);
        var fromParent = parent.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var trained = new List<SafeTensorsFile>();
        try
        {
            foreach (var file in weightFiles) trained.Add(SafeTensorsFile.Open(file));
            var prefix = $"model.layers.{layer}.";
            using var _ = no_grad();
            foreach (var (name, p) in block.named_parameters())
            {
                if (trained.FirstOrDefault(f => f.Contains(prefix + name)) is { } file)
                    file.ReadInto(prefix + name, p);
                else if (fromParent.TryGetValue(name, out var source) && source.shape.SequenceEqual(p.shape)) p.copy_(source);
                else throw new InvalidDataException($"{id}: no weights for '{name}' in {(weightFiles.Count == 0 ? "(none)" : string.Join(", ", weightFiles))} or the parent");
            }
        }
        finally
        {
            foreach (var f in trained) f.Dispose();
        }
        block.eval();
        return block;
    }
}
