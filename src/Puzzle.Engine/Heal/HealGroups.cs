using Puzzle.Engine.Library;
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

    /// <summary>The estimated peak memory of a process on a device of <paramref name="on"/> that trains
    /// <paramref name="models"/> models against a parent of
    /// <paramref name="parentParameters"/> parameters in weights of <paramref name="weightBytes"/> bytes each. A model
    /// the search assembles is at most the parent's size, so each is counted at that size
    /// (<see cref="BldMemory.Of"/> with <see cref="StateBytesPerParameter"/>, and what comes on top).</summary>
    public static long Estimate(long parentParameters, int models, int weightBytes, DeviceKind on) =>
        BldMemory.Of(parentParameters * weightBytes, models * parentParameters, on, StateBytesPerParameter(weightBytes));

    /// <summary>What a process that trains models of <paramref name="modelParameters"/> parameters holds at the least,
    /// with nothing on top: the parent's weights in elements of <paramref name="weightBytes"/> bytes, and each model's
    /// weights and training state (<see cref="StateBytesPerParameter"/> bytes per parameter).</summary>
    public static long Least(long parentParameters, IEnumerable<long> modelParameters, int weightBytes) =>
        parentParameters * weightBytes + modelParameters.Sum() * StateBytesPerParameter(weightBytes);

    /// <summary>The most parameters a model trained alone can have for a process's <see cref="Least"/> to stay within
    /// <paramref name="memory"/> (0 where the parent alone does not fit).</summary>
    public static long MostParameters(long parentParameters, int weightBytes, long memory) =>
        Math.Max(0, (memory - parentParameters * weightBytes) / StateBytesPerParameter(weightBytes));

    /// <summary>
    /// Models per process: as few processes as leave none of <paramref name="slots"/> (the jobs that run at once) idle,
    /// each as large as <paramref name="budget"/> holds by <see cref="Estimate"/>, the models spread evenly over the
    /// processes; 1 where the memory is unknown.
    /// </summary>
    public static int PerProcess(int models, int slots, long parentParameters, int weightBytes, long? budget, DeviceKind on)
    {
        if (models <= 1 || budget is not { } memory) return 1;
        var most = (models + Math.Max(1, slots) - 1) / Math.Max(1, slots);
        while (most > 1 && Estimate(parentParameters, most, weightBytes, on) > memory) most--;
        var processes = (models + most - 1) / most;
        return (models + processes - 1) / processes;
    }
}
