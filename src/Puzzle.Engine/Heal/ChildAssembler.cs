using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Heal;

/// <summary>
/// Builds a child model from a chosen architecture: each layer's block takes its attention and FFN weights from the
/// chosen variants' BLD results (the parent's own subblock where the parent's variant was chosen, nothing for a
/// no-op); embeddings, final norm and LM head are the parent's (copies, or with <c>shareEmbeddings</c> the parent's own
/// embedding and head tensors, frozen). The child is made on the parent's device, in its dtype.
/// </summary>
public static class ChildAssembler
{
    /// <param name="parent">the trained parent</param>
    /// <param name="child">the child's configuration (the parent's with each layer's chosen block)</param>
    /// <param name="layers">the chosen variant ids per layer (an empty FFN id for a whole-block choice)</param>
    /// <param name="weightsOf">a variant id's BLD weights file, or null where the variant has nothing trained</param>
    /// <param name="shareEmbeddings">the child's embeddings and LM head are the parent's tensors, not copies, and take no
    /// gradient (<see cref="CausalLM(ModelConfig, Device?, ScalarType?, CausalLM?)"/>): a child that keeps them as the
    /// parent's holds nothing of them</param>
    public static CausalLM Assemble(CausalLM parent, ModelConfig child, IReadOnlyList<LayerChoice> layers, Func<string, string?> weightsOf,
        bool shareEmbeddings = false)
    {
        if (layers.Count != child.NumLayers || child.NumLayers != parent.Config.NumLayers)
            throw new ArgumentException($"the architecture has {layers.Count} layers, the child {child.NumLayers}, the parent {parent.Config.NumLayers}");
        // made where the parent is, in its dtype: a child of an 8B parent never exists in float32 on the host (21 GB)
        var model = new CausalLM(child, parent.Device, parent.DType, shareEmbeddings ? parent : null);
        var fromParent = parent.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var _ = no_grad();
        var files = new List<SafeTensorsFile>();
        try
        {
            var byLayer = layers.Select(l => new[] { l.Attention, l.Ffn }.Where(id => id.Length > 0)
                .Select(weightsOf).OfType<string>().Select(path =>
                {
                    var f = SafeTensorsFile.Open(path);
                    files.Add(f);
                    return f;
                }).ToList()).ToList();
            foreach (var (name, p) in model.named_parameters())
            {
                if (shareEmbeddings && name is "model.embed_tokens.weight" or "lm_head.weight") continue; // the parent's own
                var layer = LayerOf(name);
                var trained = layer is { } l ? byLayer[l].FirstOrDefault(f => f.Contains(name)) : null;
                if (trained is not null)
                    trained.ReadInto(name, p);
                else if (fromParent.TryGetValue(name, out var source) && source.shape.SequenceEqual(p.shape)) p.copy_(source);
                else
                    throw new InvalidDataException(layer is { } at
                        ? $"layer {at} ({layers[at].Attention}, {layers[at].Ffn}): no weights for '{name}' in its variants' BLD results or the parent"
                        : $"no weights for '{name}' in the parent");
            }
        }
        finally
        {
            foreach (var f in files) f.Dispose();
        }
        return model;
    }

    /// <summary>The layer of a parameter named <c>model.layers.N.…</c>, or null.</summary>
    static int? LayerOf(string name)
    {
        const string prefix = "model.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var end = name.IndexOf('.', prefix.Length);
        return int.Parse(name[prefix.Length..end]);
    }
}
