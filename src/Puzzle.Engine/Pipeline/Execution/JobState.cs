namespace Puzzle.Engine.Pipeline.Execution;

public enum JobState { Cached, Stale, Missing }

/// <summary>A job's state in the store: cached, or stale (and why), or missing (never built).</summary>
public sealed record JobStatus(string Stage, string Job, string Key, JobState State, string Reason);
