using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>For every job: cached, or stale with the reason (which config field or input changed), or missing; a job
/// not cached whose last attempt failed, or was stopped, says so too.</summary>
public static class PipelineStatus
{
    public static IReadOnlyList<JobStatus> Of(PipelineGraph graph, CacheStore store, JobHistory history, string? target = null)
    {
        var logs = new RunLogs(store.Root, graph.Spec.Name);
        return graph.JobsFor(target).Select(j => Of(j, store, history, logs)).ToList();
    }

    /// <param name="logs">the pipeline's job logs, to tell a job whose last attempt failed; null: not told</param>
    public static JobStatus Of(JobPlan job, CacheStore store, JobHistory history, RunLogs? logs = null)
    {
        if (store.Find(job.Key) is { } entry)
            return job.Stage.Lost(job, entry) is { } lost
                ? new(job.Stage.Name, job.Id, job.Key, JobState.Stale, $"built, but {lost}")
                : new(job.Stage.Name, job.Id, job.Key, JobState.Cached, "");
        var status = NotCached(job, history);
        // a folder under the key that the store does not take: a manifest cut short or a payload file gone by hand
        if (store.Damage(job.Key, full: false) is { } damage)
            status = status with { Reason = $"its cache entry is damaged ({damage}); a run builds it again" };
        return logs?.LastAttemptFailed(job) is { } ended ? status with { Reason = $"{status.Reason}; its last attempt {ended}" } : status;
    }

    static JobStatus NotCached(JobPlan job, JobHistory history)
    {
        var last = history.Last(job.Stage.Name, job.Id);
        if (last is null) return new(job.Stage.Name, job.Id, job.Key, JobState.Missing, "never built");
        if (last.Key == job.Key) return new(job.Stage.Name, job.Id, job.Key, JobState.Missing, "built before, but no longer in the cache");
        var reasons = new List<string>();
        var fields = ChangedFields(last.Config, job.ConfigJson);
        if (fields.Count > 0) reasons.Add("config changed: " + string.Join(", ", fields));
        var current = job.InputKeys;
        var inputs = current.Keys.Union(last.Inputs.Keys)
            .Where(k => current.GetValueOrDefault(k) != last.Inputs.GetValueOrDefault(k))
            .Select(k => job.Inputs.TryGetValue(k, out var p) ? p.Name : k)
            .ToList();
        if (inputs.Count > 0) reasons.Add("input changed: " + string.Join(", ", inputs));
        if (last.Seed != job.Seed) reasons.Add($"seed changed: {last.Seed} → {job.Seed}");
        if (reasons.Count == 0) reasons.Add($"stage {job.Stage.Name} version changed (now {job.Stage.Version})");
        return new(job.Stage.Name, job.Id, job.Key, JobState.Stale, string.Join("; ", reasons));
    }

    /// <summary>Dotted paths of the leaves that differ between two config slices.</summary>
    public static IReadOnlyList<string> ChangedFields(JsonNode? before, JsonNode? now, string prefix = "")
    {
        if (before is JsonObject a && now is JsonObject b)
            return a.Select(p => p.Key).Union(b.Select(p => p.Key)).OrderBy(k => k, StringComparer.Ordinal)
                .SelectMany(k => ChangedFields(a[k], b[k], prefix.Length == 0 ? k : $"{prefix}.{k}")).ToList();
        var same = (before?.ToJsonString() ?? "null") == (now?.ToJsonString() ?? "null");
        return same ? [] : [prefix.Length == 0 ? "(all)" : prefix];
    }
}
