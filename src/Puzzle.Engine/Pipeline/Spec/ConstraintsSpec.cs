using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>What the child must satisfy; ratios are relative to the parent in the same scenario.</summary>
[Description("Constraints on the child; ratios compare with the parent in the same scenario. Each is optional, but a search needs at least one: with none the best child is the parent itself.")]
public sealed record ConstraintsSpec
{
    [Description("Minimum throughput as a multiple of the parent's (2.0 = twice as fast).")]
    [Bounds(ExclusiveMinimum = 0)]
    public double? ThroughputVsParent { get; init; }

    [Description("Maximum memory as a fraction of the parent's.")]
    [Bounds(ExclusiveMinimum = 0)]
    public double? MemoryVsParent { get; init; }

    [Description("Maximum parameter count as a fraction of the parent's.")]
    [Bounds(ExclusiveMinimum = 0)]
    public double? ParamsVsParent { get; init; }

    [Description("Maximum latency of the whole scenario, in milliseconds.")]
    [Bounds(ExclusiveMinimum = 0)]
    public double? LatencyMs { get; init; }

    [Description("Maximum memory (weights and KV cache), in bytes.")]
    [Bounds(ExclusiveMinimum = 0)]
    public long? MemoryBytes { get; init; }

    [Description("Minimum generation throughput, in tokens per second.")]
    [Bounds(ExclusiveMinimum = 0)]
    public double? ThroughputTokensPerS { get; init; }

    /// <summary>Whether any constraint is given: with none, the best child is the parent itself.</summary>
    public bool HasAny() => ThroughputVsParent is not null || MemoryVsParent is not null || ParamsVsParent is not null || LatencyMs is not null
                       || MemoryBytes is not null || ThroughputTokensPerS is not null;
}
