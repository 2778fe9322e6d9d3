#nullable enable
// Part of the front-end contract (StatusDocument): #loaded by build/puzzle.cake, so base library only; a Cake script
// cannot declare a namespace, hence the #if.
#if !CAKE
namespace Puzzle.Engine.Pipeline.Execution;
#endif

public enum JobState { Cached, Stale, Missing }

/// <summary>A job's state in the store: cached, or stale (and why), or missing (never built).</summary>
public sealed record JobStatus(string Stage, string Job, string Key, JobState State, string Reason);
#nullable restore
