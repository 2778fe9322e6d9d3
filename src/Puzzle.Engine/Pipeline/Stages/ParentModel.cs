using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>The parent's architecture known at plan time (from parent.pretrain, or the given checkpoint's config.json).</summary>
public static class ParentModel
{
    public static ModelConfig PlannedConfig(PipelineSpec spec) => spec.Parent.Path is { } path
        ? HfConfig.Read(ParentStage.ResolvePath(spec, path))
        : ParentBuilder.ModelConfig(spec.Parent.Pretrain!, spec.Parent.Pretrain!.VocabSize, spec.Data.SeqLen, null, null);

    /// <summary>The ids of the parent's own variants: its attention and FFN per layer, and its whole block (what a
    /// search over whole blocks, coupled or from combined scores, chooses).</summary>
    public static IReadOnlySet<string> VariantIds(ModelConfig parent, SearchSpaceSpec space) =>
        Library.VariantCatalog.Coupled(parent, space).Concat(Library.VariantCatalog.For(parent, space))
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
            model.LoadWeights(tensors.Read);
            model.eval();
            return model;
        }
    }
}
