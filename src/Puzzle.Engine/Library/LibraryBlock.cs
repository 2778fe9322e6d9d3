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
        var block = Initialisers.Like(new DecoderBlock(config, shape), parent.parameters().First());
        var fromParent = parent.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var trained = variantWeights is null ? null : SafeTensorsFile.Open(variantWeights);
        var prefix = $"model.layers.{variant.Layer}.";
        using var _ = no_grad();
        foreach (var (name, p) in block.named_parameters())
        {
            if (trained is not null && trained.Contains(prefix + name))
            {
                using var t = trained.Read(prefix + name);
                p.copy_(t);
            }
            else if (fromParent.TryGetValue(name, out var source) && source.shape.SequenceEqual(p.shape)) p.copy_(source);
            else throw new InvalidDataException($"{variant.Id}: no weights for '{name}' in {variantWeights ?? "(none)"} or the parent");
        }
        block.eval();
        return block;
    }
}
