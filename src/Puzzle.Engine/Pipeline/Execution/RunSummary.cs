#nullable enable
// Part of the front-end contract: #loaded by build/puzzle.cake, so base library only (the store-side members are in
// RunSummary.Store.cs); a Cake script cannot declare a namespace, hence the #if.
#if !CAKE
namespace Puzzle.Engine.Pipeline.Execution;
#endif

/// <summary>How a job ended in a run: <c>Cancelled</c> is a job the run stopped, or never started, when it was cancelled
/// (Ctrl-C) or its executor failed.</summary>
public enum JobOutcome { Cached, Ran, Failed, Skipped, Cancelled }

public sealed record JobRecord(string Stage, string Job, string Key, JobOutcome Outcome, double Seconds, string? Log, string? Reason = null);

/// <summary>
/// What one run did: which jobs ran, which were cached, which failed (with their logs) or were skipped, in the order the
/// run planned them. <c>puzzle run --summary FILE</c> writes it for scripts and front ends.
/// </summary>
public sealed partial record RunSummary(string Pipeline, string? Target, DateTime StartedUtc, double Seconds, IReadOnlyList<JobRecord> Jobs)
{
    public bool Succeeded => Jobs.All(j => j.Outcome is JobOutcome.Cached or JobOutcome.Ran);
    public IEnumerable<JobRecord> Where(JobOutcome outcome) => Jobs.Where(j => j.Outcome == outcome);

    /// <summary>The record as JSON, as the store and <c>--summary</c> hold it.</summary>
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this, PuzzleJson.Options);

    /// <param name="source">where the JSON came from, for the error when it is not a run record</param>
    public static RunSummary Parse(string json, string source = "run summary") => PuzzleJson.Read<RunSummary>(json, source);
}
#nullable restore
