using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>One thing a job's process holds on its device, and its bytes.</summary>
public sealed record MemoryPart(string What, long Bytes);

/// <summary>
/// The memory a job's process cannot do without on its device (<see cref="Stage.LeastMemory"/>), counted from shapes
/// before anything starts: weights and training state only, never what comes on top (activations, the allocator's
/// cache, a CUDA context). A run is refused before it starts where a job needs more than its device has, and only
/// there: the estimates that size groups of jobs (<see cref="Library.BldMemory"/>, <see cref="Heal.HealGroups"/>) add
/// what comes on top, and are allowed to be wrong; this is not.
/// </summary>
/// <param name="Remedy">what would make it fit short of a device with more memory, as a sentence (null: nothing a spec
/// field changes)</param>
public sealed record MemoryFloor(IReadOnlyList<MemoryPart> Parts, string? Remedy = null)
{
    public long Bytes => Parts.Sum(p => p.Bytes);

    /// <summary>The parent's weights whole (embeddings, blocks, final norm and head), in the compute dtype that
    /// <paramref name="device"/> gets (the spec's <c>dtype</c>, else the device's default).</summary>
    public static MemoryFloor Parent(PipelineSpec spec, DeviceKind device) =>
        new([ParentWeights(ParentStage.PlannedConfig(spec), ComputeDevice.ElementBytesOn(device, spec.Dtype))]);

    /// <summary>The weights of <paramref name="parent"/> whole, in elements of <paramref name="bytes"/> bytes.</summary>
    public static MemoryPart ParentWeights(Model.ModelConfig parent, int bytes)
    {
        var parameters = Cost.CostMeter.Parameters(parent);
        return new($"the parent's weights, {Cost.CostMeter.Readable(parameters)} parameters in {DTypeName(bytes)}", parameters * bytes);
    }

    /// <summary>What it holds, as a sentence's part: "the parent's weights, 8.03B parameters in bfloat16, 14.96 GiB plus …".</summary>
    public string Holds => string.Join(" plus ", Parts.Select(p => $"{p.What}, {StoreUsage.Human(p.Bytes)}"));

    /// <summary>The dtype of an element of <paramref name="bytes"/> bytes, as a spec spells it.</summary>
    public static string DTypeName(int bytes) => bytes == 2 ? "bfloat16" : "float32";
}
