using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Parents;

/// <summary>A trained parent as the stages use it: its own variants, and the model loaded whole.</summary>
public static class ParentModel
{
    /// <summary>The ids of the parent's own variants: its attention and FFN per layer, and its whole block (what a
    /// search over whole blocks, coupled or from combined scores, chooses).</summary>
    public static IReadOnlySet<string> VariantIds(ModelConfig parent, Func<int, LayerAlternatives> alternatives) =>
        VariantCatalog.Coupled(parent, alternatives).Concat(VariantCatalog.For(parent, alternatives))
            .Where(v => v.IsParent).Select(v => v.Id).ToHashSet();

    /// <summary>
    /// The trained parent, loaded whole (for stages that run it end to end), on <paramref name="device"/> (default: CPU):
    /// made there in the compute dtype and filled one checkpoint tensor at a time, so host memory holds one tensor, not
    /// a float32 copy of the model.
    /// </summary>
    public static CausalLM Load(string modelDirectory, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        var (config, tensors) = Checkpoint.Open(modelDirectory);
        using (tensors)
        {
            var model = new CausalLM(config, device.Device, device.DType);
            model.LoadWeights(tensors);
            model.eval();
            return model;
        }
    }
}
