namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// <c>puzzle status</c> as text: one line per stage by default, since one upstream change makes hundreds of jobs stale
/// for the same reason; one line per job with <c>--verbose</c>. Plain aligned columns, never cut to a terminal's width,
/// so a pipe or a CI log gets every name whole.
/// </summary>
public static class StatusText
{
    public static string Summary(IReadOnlyList<JobStatus> jobs)
    {
        var rows = new List<string[]> { new[] { "stage", "jobs", "cached", "stale", "missing", "why" } };
        foreach (var stage in jobs.GroupBy(j => j.Stage))
        {
            int Count(JobState s) => stage.Count(j => j.State == s);
            rows.Add([stage.Key, stage.Count().ToString(), Count(JobState.Cached).ToString(), Count(JobState.Stale).ToString(),
                Count(JobState.Missing).ToString(), Why(stage.Where(j => j.State != JobState.Cached).ToList())]);
        }
        return Columns(rows);
    }

    public static string Detailed(IReadOnlyList<JobStatus> jobs)
    {
        var rows = new List<string[]> { new[] { "job", "state", "reason" } };
        rows.AddRange(jobs.Select(j => new[] { $"{j.Stage}/{j.Job}", j.State.ToString().ToLowerInvariant(), j.Reason }));
        return Columns(rows);
    }

    /// <summary>
    /// What made a stage's jobs stale or missing, most common first: a job's own change (config, seed, version) is
    /// named; "an input changed" is counted, with the inputs' stages, since its cause is upstream.
    /// </summary>
    static string Why(IReadOnlyList<JobStatus> notCached)
    {
        if (notCached.Count == 0) return "";
        var causes = new List<string>();
        foreach (var group in notCached.SelectMany(j => j.Reason.Split("; ").Select(r => (j, Reason: Cause(r))))
                     .GroupBy(p => p.Reason).OrderByDescending(g => g.Count()))
            causes.Add(group.Count() == notCached.Count ? group.Key : $"{group.Key} ({group.Count()})");
        return causes.Count <= 3 ? string.Join("; ", causes) : string.Join("; ", causes.Take(3)) + $"; {causes.Count - 3} more reasons";
    }

    /// <summary>"input changed: Parent/parent, Data/tokens" → "input changed: Parent, Data"; other reasons as they are.</summary>
    static string Cause(string reason)
    {
        const string input = "input changed: ";
        if (!reason.StartsWith(input, StringComparison.Ordinal)) return reason;
        var stages = reason[input.Length..].Split(", ").Select(n => n.Split('/')[0]).Distinct();
        return input + string.Join(", ", stages);
    }

    /// <param name="rightAligned">columns of numbers, padded on the left so their digits line up</param>
    internal static string Columns(List<string[]> rows, IReadOnlyCollection<int>? rightAligned = null)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var text = new System.Text.StringBuilder();
        foreach (var row in rows)
            text.AppendLine(string.Join("  ", row.Select((cell, c) =>
                rightAligned?.Contains(c) == true ? cell.PadLeft(widths[c]) : c == row.Length - 1 ? cell : cell.PadRight(widths[c]))).TrimEnd());
        return text.ToString();
    }
}
