using System.Diagnostics;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// The run's <c>[k/N]</c> counter and overall ETA. A job's expected time is the mean of its stage's jobs finished in
/// this run, else the mean of its stage's jobs in the latest earlier run of the pipeline that ran that stage
/// (<paramref name="earlier"/>, <see cref="StageTimes"/>); a running job is expected to take at least what it has taken.
/// A stage timed neither way is not guessed at but named after the ETA as not timed yet: in a new store of the moby-2x
/// pipeline the mean of every job finished so far made 3 min 16 s of 47 minutes after its Tokenizer, and 5 h 27 min
/// after its Parent. A job built by another job's process (a companion: one Distill process builds its layers' variants
/// together) counts as a job of its stage that took no time, so a stage whose processes each build 32 jobs expects a
/// 32nd of a process per job.
/// </summary>
/// <param name="earlier">seconds per job of each stage in earlier runs (stage name → seconds)</param>
internal sealed class RunProgress(IReadOnlyCollection<JobPlan> toRun, Stopwatch clock, int parallelJobs,
    IReadOnlyDictionary<string, double>? earlier = null)
{
    readonly int _total = toRun.Count;
    readonly List<JobPlan> _planned = [.. toRun];
    readonly HashSet<JobPlan> _left = [.. toRun];
    readonly Dictionary<string, List<double>> _seconds = new(StringComparer.Ordinal);
    int _started, _finished;

    /// <summary>The counter for a job being started: <c>[k/N]</c> with k counting starts.</summary>
    public string Started() => Format(++_started);

    /// <summary>The counter after the last finished (or skipped) job.</summary>
    public string Counter => Format(_finished);

    /// <summary>A job that ended without building and starts once more: its next start takes the same count.</summary>
    public void Again() => _started--;

    public void Finished(JobPlan job, TimeSpan took)
    {
        _finished++;
        _left.Remove(job);
        Times(job).Add(took.TotalSeconds);
    }

    List<double> Times(JobPlan job) =>
        _seconds.TryGetValue(job.Stage.Name, out var list) ? list : _seconds[job.Stage.Name] = [];

    /// <summary>A job that will not run here: skipped because an input did not build.</summary>
    public void Skipped(JobPlan job)
    {
        (_finished, _started) = (_finished + 1, _started + 1);
        _left.Remove(job);
    }

    /// <summary>A job that another job's process built (a companion): counted, taking no time of its own.</summary>
    public void BuiltWith(JobPlan job)
    {
        Skipped(job);
        Times(job).Add(0);
    }

    /// <summary>", ETA h:mm:ss (h:mm:ss elapsed)" for what is left, given the jobs running now and the companions that a
    /// finished process built but that are not counted yet, with the stages left that are not timed yet after the time
    /// (", ETA 0:01:10 + Score and Heal, not timed yet (…)"); empty before any job has finished.</summary>
    public string Eta(IEnumerable<(JobPlan Job, TimeSpan Elapsed)> running, IReadOnlyCollection<JobPlan>? builtMeanwhile = null)
    {
        var built = builtMeanwhile?.Where(_left.Contains).ToHashSet() ?? [];
        var all = _seconds.Values.SelectMany(s => s).ToList();
        if (all.Count == 0) return "";
        double? Expected(JobPlan j) => _seconds.TryGetValue(j.Stage.Name, out var s)
            ? s.Sum() / (s.Count + built.Count(b => b.Stage.Name == j.Stage.Name))
            : earlier is not null && earlier.TryGetValue(j.Stage.Name, out var before) ? before : null;
        var active = running.ToList();
        var busy = active.Select(r => r.Job).ToHashSet();
        var waiting = _left.Where(j => !busy.Contains(j) && !built.Contains(j)).ToList();
        var work = waiting.Sum(j => Expected(j) ?? 0) + active.Sum(r => Math.Max(0, (Expected(r.Job) ?? 0) - r.Elapsed.TotalSeconds));
        var untimed = _planned.Where(j => _left.Contains(j) && !built.Contains(j) && Expected(j) is null).Select(j => j.Stage.Name).Distinct().ToList();
        // jobs run side by side: divide by how many ran at once on average so far (at least one, at most the slots)
        var parallel = Math.Clamp(all.Sum() / Math.Max(1e-9, clock.Elapsed.TotalSeconds), 1, Math.Max(1, parallelJobs));
        var notTimed = untimed.Count switch
        {
            0 => "",
            1 or 2 => $" + {string.Join(" and ", untimed)}, not timed yet",
            _ => $" + {untimed.Count} stages not timed yet: {untimed[0]}, {untimed[1]}, …",
        };
        return $", ETA {ProgressLine.Clock(TimeSpan.FromSeconds(work / parallel))}{notTimed} ({ProgressLine.Clock(clock.Elapsed)} elapsed)";
    }

    /// <summary>
    /// Seconds per job of each stage, from the newest of <paramref name="runs"/> in which the stage ran: the mean over
    /// that run's jobs of the stage that ran there, companions (0 s) included, so a stage of a few processes building
    /// many jobs each is a process's time spread over its jobs. In a rerun of the moby-2x pipeline's library (2026-12-02)
    /// the ETA after BLD said 3 min 26 s from this run's mean job (6.6 s) for 10 min 44 s of Score, Sweep, Search, Heal,
    /// Evaluate and Speed.
    /// </summary>
    public static IReadOnlyDictionary<string, double> StageTimes(IEnumerable<RunSummary> runs)
    {
        var times = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var run in runs.OrderByDescending(r => r.StartedUtc))
            foreach (var stage in run.Where(JobOutcome.Ran).GroupBy(j => j.Stage))
                if (!times.ContainsKey(stage.Key) && stage.Sum(j => j.Seconds) > 0)
                    times[stage.Key] = stage.Average(j => j.Seconds);
        return times;
    }

    /// <summary>Seconds with a decimal under a minute, h:mm:ss above.</summary>
    public static string Duration(TimeSpan t) => t.TotalSeconds < 60 ? $"{t.TotalSeconds:F1} s" : ProgressLine.Clock(t);

    string Format(int k)
    {
        var width = _total.ToString().Length;
        return $"[{k.ToString().PadLeft(width)}/{_total}]";
    }
}
