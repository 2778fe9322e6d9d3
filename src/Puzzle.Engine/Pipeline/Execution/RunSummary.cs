using System.Text.Json;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Cache;

namespace Puzzle.Engine.Pipeline.Execution;

public enum JobOutcome { Cached, Ran, Failed, Skipped }

public sealed record JobRecord(string Stage, string Job, string Key, JobOutcome Outcome, double Seconds, string? Log, string? Reason = null);

/// <summary>What one run did: which jobs ran, which were cached, which failed (with their logs) or were skipped.</summary>
public sealed record RunSummary(string Pipeline, string? Target, DateTime StartedUtc, double Seconds, IReadOnlyList<JobRecord> Jobs)
{
    public bool Succeeded => Jobs.All(j => j.Outcome is JobOutcome.Cached or JobOutcome.Ran);
    public IEnumerable<JobRecord> Where(JobOutcome outcome) => Jobs.Where(j => j.Outcome == outcome);

    /// <summary>A run's length as people read it: "0.4 s" under a minute, h:mm:ss above.</summary>
    public static string Duration(double seconds) => RunProgress.Duration(TimeSpan.FromSeconds(seconds));

    /// <summary>Writes the record under <c>STORE/runs/PIPELINE/</c> for scripts, CI and tests.</summary>
    public string Save(string storeRoot)
    {
        var dir = Path.Combine(storeRoot, "runs", Pipeline);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{StartedUtc:yyyyMMdd-HHmmss-fff}-{Environment.ProcessId}.json");
        var json = ToJson();
        AtomicFile.WriteAllText(path, json);
        // concurrent runs each rename their own complete copy over last.json: the last one wins, none fails
        AtomicFile.WriteAllText(Path.Combine(dir, "last.json"), json);
        return path;
    }

    /// <summary>The record as JSON, as <see cref="Save"/> writes it.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JobManifest.Json);
}
