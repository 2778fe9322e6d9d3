namespace Puzzle.Engine.Packaging;

/// <summary>One job that contributed to a package: its stage, id, the stage's version and its cache key, and the tool
/// version, host and processor that built it, from its manifest (a cached job was built by an earlier run, maybe on
/// another machine or by other code than the Pack job's; null where its manifest predates the field).</summary>
public sealed record ProvenanceJob(string Stage, string Job, int Version, string Key, string? Tool = null, string? Host = null, string? Cpu = null);
