using System.Diagnostics;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// The run's <c>[k/N]</c> counter and overall ETA. A job's expected time is the mean of its stage's jobs finished in
/// this run, else of every job finished so far; a running job is expected to take at least what it has taken.
/// </summary>
internal sealed class RunProgress(IReadOnlyCollection<JobPlan> toRun, Stopwatch clock, int parallelJobs)
{
    readonly int _total = toRun.Count;
    readonly HashSet<JobPlan> _left = [.. toRun];
    readonly Dictionary<string, List<double>> _seconds = new(StringComparer.Ordinal);
    int _started, _finished;

    /// <summary>The counter for a job being started: <c>[k/N]</c> with k counting starts.</summary>
    public string Started() => Format(++_started);

    /// <summary>The counter after the last finished (or skipped) job.</summary>
    public string Counter => Format(_finished);

    public void Finished(JobPlan job, TimeSpan took)
    {
        _finished++;
        _left.Remove(job);
        if (!_seconds.TryGetValue(job.Stage.Name, out var list)) _seconds[job.Stage.Name] = list = [];
        list.Add(took.TotalSeconds);
    }

    /// <summary>A job that will not run here: skipped, or built by another job's process (a companion).</summary>
    public void Skipped(JobPlan job)
    {
        (_finished, _started) = (_finished + 1, _started + 1);
        _left.Remove(job);
    }

    /// <summary>", ETA h:mm:ss (h:mm:ss elapsed)" for what is left, given the jobs running now; empty before any estimate.</summary>
    public string Eta(IEnumerable<(JobPlan Job, TimeSpan Elapsed)> running)
    {
        var all = _seconds.Values.SelectMany(s => s).ToList();
        if (all.Count == 0) return "";
        var mean = all.Average();
        double Expected(JobPlan j) => _seconds.TryGetValue(j.Stage.Name, out var s) ? s.Average() : mean;
        var active = running.ToList();
        var busy = active.Select(r => r.Job).ToHashSet();
        var work = _left.Where(j => !busy.Contains(j)).Sum(Expected) + active.Sum(r => Math.Max(0, Expected(r.Job) - r.Elapsed.TotalSeconds));
        // jobs run side by side: divide by how many ran at once on average so far (at least one, at most the slots)
        var parallel = Math.Clamp(all.Sum() / Math.Max(1e-9, clock.Elapsed.TotalSeconds), 1, Math.Max(1, parallelJobs));
        return $", ETA {ProgressLine.Clock(TimeSpan.FromSeconds(work / parallel))} ({ProgressLine.Clock(clock.Elapsed)} elapsed)";
    }

    /// <summary>Seconds with a decimal under a minute, h:mm:ss above.</summary>
    public static string Duration(TimeSpan t) => t.TotalSeconds < 60 ? $"{t.TotalSeconds:F1} s" : ProgressLine.Clock(t);

    string Format(int k)
    {
        var width = _total.ToString().Length;
        return $"[{k.ToString().PadLeft(width)}/{_total}]";
    }
}
