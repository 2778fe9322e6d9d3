namespace Puzzle.Engine.Packaging;

/// <summary>One job that contributed to a package: its stage, id, the stage's version and its cache key.</summary>
public sealed record ProvenanceJob(string Stage, string Job, int Version, string Key);
