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

    /// <summary>
    /// What a Heal process on a GPU holds at its peak per byte of the parent's weights and the models' weights and state,
    /// on top of <see cref="BldMemory.Fixed"/>: fitted to the three Heal processes measured on an H200 (2026-12-04, each
    /// process's own peak as NVML lists it): the 8B shape's 5.61B-parameter child alone, 149.0 GB for 94.5 GB of
    /// weights and state, and the 1B shape's two processes of two models, 38.1 and 37.8 GB for 23.1 and 23.6 GB: 1.54,
    /// 1.52 and 1.47 times, where Distill's <see cref="BldMemory.Scale"/> (1.32) had estimated 127.9, 33.6 and 34.3 GB.
    /// GKD holds more on top than BLD: every trained parameter's float32 gradient during the optimizer step
    /// (<see cref="Training.TrainingRun.StepOnGradients"/>), the full-vocabulary logit slices of the child and the parent,
    /// and the allocator's cache around them. On a CPU Heal's peaks are within 2% of Distill's fit, which stays.
    /// </summary>
    public const double GpuScale = 1.55;

    /// <summary>The estimated peak of a Heal process on a device of <paramref name="on"/> that holds
    /// <paramref name="parentBytes"/> of the parent and trains <paramref name="trainedParameters"/> parameters in weights of
    /// <paramref name="weightBytes"/> bytes: <see cref="BldMemory.Of"/>, with <see cref="GpuScale"/> on a GPU.</summary>
    public static long Of(long parentBytes, long trainedParameters, int weightBytes, DeviceKind on) =>
        BldMemory.Of(parentBytes, trainedParameters, on, StateBytesPerParameter(weightBytes), on == DeviceKind.Cuda ? GpuScale : BldMemory.Scale);

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
    /// (<see cref="Of"/>: <see cref="StateBytesPerParameter"/> each, and what comes on top), <paramref name="frozen"/>
    /// of each model's parameters frozen (<see cref="Frozen"/>).</summary>
    public static long Estimate(long parentParameters, int models, int weightBytes, DeviceKind on, long frozen = 0) =>
        Of(parentParameters * weightBytes, models * (parentParameters - frozen), weightBytes, on);

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
