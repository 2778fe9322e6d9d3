using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// A parent layer with one library variant in place: a decoupled variant keeps the parent's other subblock, a coupled
/// one replaces both. Weights come from the variant's BLD job (none for a no-op) and from the parent.
/// </summary>
public static class LibraryBlock
{
    /// <param name="parent">the parent's block at the variant's layer; the block is made on its device, in its dtype</param>
    /// <param name="variantWeights">the BLD job's weights file, or null for a variant with nothing trained (no-op, the parent's own)</param>
    public static DecoderBlock Build(ModelConfig config, DecoderBlock parent, BlockVariant variant, string? variantWeights)
    {
        var own = parent.Config;
        var shape = variant.Subblock switch
        {
            Subblock.Attention => new BlockConfig(variant.Attention!, own.Ffn),
            Subblock.Ffn => new BlockConfig(own.Attention, variant.Ffn!),
            _ => variant.AsBlock,
        };
        return Build(config, parent, variant.Layer, shape, variantWeights is null ? [] : [variantWeights], variant.Id);
    }

    /// <summary>A decoupled variant's subblock alone, the other subblock absent (<see cref="BlockVariant.AsBlock"/>): a
    /// half block that, run after the attention half, makes the pairing of the two (see <see cref="DecoderBlock"/>).</summary>
    /// <param name="variantWeights">the BLD job's weights file, or null for a variant with nothing trained (no-op, the parent's own)</param>
    public static DecoderBlock Alone(ModelConfig config, DecoderBlock parent, BlockVariant variant, string? variantWeights) =>
        Build(config, parent, variant.Layer, variant.AsBlock, variantWeights is null ? [] : [variantWeights], variant.Id);

    static DecoderBlock Build(ModelConfig config, DecoderBlock parent, int layer, BlockConfig shape, IReadOnlyList<string> weightFiles, string id)
    {
        var block = Initialisers.Like(new DecoderBlock(config, shape), parent.parameters().First());
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
