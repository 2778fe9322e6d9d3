using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Heal;

/// <summary>
/// How many models one Heal process trains together. The models of a pipeline (its children and baselines) all train
/// on the same batches against the same parent, so a process that trains several runs the parent's blocks once per
/// batch for all of them (at the 1B shape about a quarter of one model's GKD compute) and loads the parent once; it
/// holds every model's weights and optimizer state at once, and one model's activations at a time.
/// </summary>
public static class HealGroups
{
    /// <summary>Bytes of weights and training state per trained parameter on a Heal process's device: a Distill
    /// process's 16 (<see cref="BldMemory.StateBytesPerParameter"/>) less the best held-out copy (as many bytes as a
    /// weight), which Heal keeps off the device (<see cref="Training.HeldoutGuard"/>'s offload): 14 in bfloat16 on a GPU,
    /// 12 in float32 on a CPU.</summary>
    public static int StateBytesPerParameter(int weightBytes) => BldMemory.StateBytesPerParameter - weightBytes;

    /// <summary>The parameters of each model of <paramref name="parent"/> that Heal does not train: with
    /// <c>gkd.train_embeddings: false</c> its embeddings and LM head (one tensor where they are tied), which are then the
    /// parent's own tensors (<see cref="ChildAssembler.Assemble"/>) and hold nothing of their own; otherwise none.</summary>
    public static long Frozen(ModelConfig parent, bool trainEmbeddings) =>
        trainEmbeddings ? 0 : CostMeter.EmbeddingParameters(parent);

    /// <summary>What a model of <paramref name="parameters"/> parameters, <paramref name="frozen"/> of them frozen, holds
    /// in a Heal process beside the parent: each trained parameter's weight and state (<see cref="StateBytesPerParameter"/>);
    /// the frozen ones are the parent's.</summary>
    public static long ModelBytes(long parameters, long frozen, int weightBytes) =>
        (parameters - frozen) * StateBytesPerParameter(weightBytes);

    /// <summary>The estimated peak memory of a process on a device of <paramref name="on"/> that trains
    /// <paramref name="models"/> models against a parent of
    /// <paramref name="parentParameters"/> parameters in weights of <paramref name="weightBytes"/> bytes each. A model
    /// the search assembles is at most the parent's size, so each is counted at that size
    /// (<see cref="BldMemory.Of"/> with <see cref="StateBytesPerParameter"/>, and what comes on top), <paramref name="frozen"/>
    /// of each model's parameters frozen (<see cref="Frozen"/>).</summary>
    public static long Estimate(long parentParameters, int models, int weightBytes, DeviceKind on, long frozen = 0) =>
        BldMemory.Of(parentParameters * weightBytes, models * (parentParameters - frozen), on, StateBytesPerParameter(weightBytes));

    /// <summary>What a process that trains models of <paramref name="modelParameters"/> parameters holds at the least,
    /// with nothing on top: the parent's weights in elements of <paramref name="weightBytes"/> bytes, and each model's
    /// <see cref="ModelBytes"/>.</summary>
    public static long Least(long parentParameters, IEnumerable<long> modelParameters, int weightBytes, long frozen = 0) =>
        parentParameters * weightBytes + modelParameters.Sum(m => ModelBytes(m, frozen, weightBytes));

    /// <summary>The most parameters a model trained alone, <paramref name="frozen"/> of them frozen, can have for a
    /// process's <see cref="Least"/> to stay within <paramref name="memory"/> (0 where the parent alone does not fit).</summary>
    public static long MostParameters(long parentParameters, int weightBytes, long memory, long frozen = 0)
    {
        var left = memory - parentParameters * weightBytes;
        return left < 0 ? 0 : frozen + left / StateBytesPerParameter(weightBytes);
    }

    /// <summary>
    /// Models per process: as few processes as leave none of <paramref name="slots"/> (the jobs that run at once) idle,
    /// each as large as <paramref name="budget"/> holds by <see cref="Estimate"/>, the models spread evenly over the
    /// processes; 1 where the memory is unknown.
    /// </summary>
    public static int PerProcess(int models, int slots, long parentParameters, int weightBytes, long? budget, DeviceKind on, long frozen = 0)
    {
        if (models <= 1 || budget is not { } memory) return 1;
        var most = (models + Math.Max(1, slots) - 1) / Math.Max(1, slots);
        while (most > 1 && Estimate(parentParameters, most, weightBytes, on, frozen) > memory) most--;
        var processes = (models + most - 1) / most;
        return (models + processes - 1) / processes;
    }
}
