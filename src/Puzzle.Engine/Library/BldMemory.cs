using Puzzle.Engine.Cost;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Library;

/// <summary>
/// The device memory of one Distill process, estimated from shapes before it starts, and how many consecutive layers'
/// variants one process may train within a budget. What it holds (docs/scale.md): the parent's embeddings and layers up
/// to the deepest variant's, in the compute dtype, and per trained parameter 16 bytes (the weight and the best held-out
/// copy in the compute dtype, a float32 master where that is not float32, AdamW's two float32 moments: 2 + 2 + 4 + 8 in
/// bfloat16, 4 + 4 + 8 in float32). Activations, the allocator's cache, the runtime and on a GPU the CUDA context come on
/// top; the <see cref="Scale"/> and the <see cref="Fixed"/> term that cover them are fitted to peaks measured on each kind
/// of device: on an H200 (2026-11-29) to the two Distill peaks, every variant of the 1B shape in one process, 25.4 GB for
/// 16.9 GB of weights and state, and layer 0 of the 8B shape, 9.4 GB for 4.8 GB; on this project's CPU (2026-12-01) to
/// the peak RSS of the default and moby-2x pipelines' Distill and Heal processes, 0.37-1.18 GB for 17-339 MB, of which
/// at most 0.99 GB (moby-2x's 42 variants in one process) is more than <see cref="Scale"/> times what they hold.
/// </summary>
public static class BldMemory
{
    public const double Scale = 1.32;
    public const long GpuFixed = 3_100_000_000, CpuFixed = 1_200_000_000;

    /// <summary>What a process on a device of <paramref name="on"/> holds on top of its scaled weights and state,
    /// whatever it trains.</summary>
    public static long Fixed(DeviceKind on) => on == DeviceKind.Cpu ? CpuFixed : GpuFixed;
    /// <summary>Bytes of weights and optimizer state per trained parameter.</summary>
    public const int StateBytesPerParameter = 16;

    /// <summary>The estimated peak memory of a process on a device of <paramref name="on"/> that trains
    /// <paramref name="variants"/> (their layers decide how much of the parent it loads), with weights of
    /// <paramref name="weightBytes"/> bytes per element.</summary>
    public static long Estimate(ModelConfig parent, IEnumerable<BlockVariant> variants, int weightBytes, DeviceKind on)
    {
        var list = variants.ToList();
        if (list.Count == 0) return 0;
        var (parentBytes, trained) = Held(parent, list, weightBytes);
        return Of(parentBytes, trained, on);
    }

    /// <summary>What a process that trains <paramref name="variants"/> (at least one) holds before anything comes on top:
    /// the parent's embeddings and layers up to the deepest variant's, in elements of <paramref name="weightBytes"/>
    /// bytes, and the parameters it trains (<see cref="StateBytesPerParameter"/> bytes each).</summary>
    public static (long ParentBytes, long TrainedParameters) Held(ModelConfig parent, IReadOnlyList<BlockVariant> variants, int weightBytes)
    {
        var layers = variants.Max(v => v.Layer) + 1;
        var parentBytes = ((long)parent.VocabSize * parent.HiddenSize +
                           Enumerable.Range(0, layers).Sum(l => Roofline.BlockParameters(parent, parent.Blocks[l]))) * weightBytes;
        return (parentBytes, variants.Sum(v => Roofline.BlockParameters(parent, v.AsBlock)));
    }

    /// <summary>What a process that trains <paramref name="variants"/> holds at the least (<see cref="Held"/>'s bytes, with
    /// nothing on top): below this no device runs it.</summary>
    public static long Least(ModelConfig parent, IReadOnlyList<BlockVariant> variants, int weightBytes)
    {
        var (parentBytes, trained) = Held(parent, variants, weightBytes);
        return parentBytes + trained * StateBytesPerParameter;
    }

    /// <summary>The estimated peak memory of a training process on a device of <paramref name="on"/> that holds
    /// <paramref name="parentBytes"/> of the parent and trains <paramref name="trainedParameters"/> parameters
    /// (<paramref name="bytesPerParameter"/> bytes of weights and state each: 16, or less where the best held-out copy
    /// is kept elsewhere, as Heal keeps it), <paramref name="scale"/> times that (<see cref="Scale"/>, Distill's fit,
    /// unless given) plus <see cref="Fixed"/>.</summary>
    public static long Of(long parentBytes, long trainedParameters, DeviceKind on, int bytesPerParameter = StateBytesPerParameter, double scale = Scale) =>
        (long)(scale * (parentBytes + trainedParameters * bytesPerParameter)) + Fixed(on);

    /// <summary>
    /// Consecutive layers per process (blocks of layers 0..n−1, n..2n−1, …, as <c>bld.layers_per_process</c> groups
    /// them) such that every block's <see cref="Estimate"/> fits <paramref name="budget"/> in as few processes as
    /// possible, the layers spread evenly over them (each process runs the parent up to its deepest layer, so even
    /// blocks run fewer parent layers and hold less than one full block and a short one): 0 when all layers fit in one
    /// process, 1 when not even one layer per process fits (each layer then runs alone, and may still run out).
    /// </summary>
    public static int LayersPerProcess(ModelConfig parent, IReadOnlyList<BlockVariant> variants, int weightBytes, long budget, DeviceKind on)
    {
        var layers = parent.NumLayers;
        bool Fits(int perProcess) => variants.GroupBy(v => v.Layer / perProcess).All(g => Estimate(parent, g, weightBytes, on) <= budget);
        if (Fits(layers)) return 0;
        var most = Enumerable.Range(2, layers - 2).Reverse().FirstOrDefault(Fits);
        if (most == 0) return 1;
        var processes = (layers + most - 1) / most;
        var even = (layers + processes - 1) / processes;
        return Fits(even) ? even : most;
    }
}
