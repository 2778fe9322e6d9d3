using Puzzle.Engine.Cost;

namespace Puzzle.Engine.Search;

/// <summary>One round of the closed loop: the time limits solved under (on summed time), and the chosen architecture's
/// whole time as the cost model predicted it and as it measured, beside the parent's measured time.</summary>
public sealed record LoopRound(int Round, IReadOnlyList<double> TimeLimits, double PredictedSeconds, double MeasuredSeconds,
    double ParentMeasuredSeconds, bool Met);

/// <summary>What the closed loop reached: the last solve's architectures and every round.</summary>
public sealed record LoopResult(IReadOnlyList<Architecture> Found, SearchProblem Problem, IReadOnlyList<LoopRound> Rounds)
{
    public bool Met => Rounds.Count == 0 || Rounds[^1].Met;
}

/// <summary>
/// Closes the loop between the cost model and the machine. The chosen architecture is timed whole; when it misses a
/// time limit as measured, with <c>margin</c> to spare (measured time above limit / (1 + margin); a limit relative to
/// the parent is judged against the parent's measured time), every missed limit is tightened to that share of itself
/// over the observed error (measured / predicted whole time of the chosen architecture, the prediction and the tightened
/// limit turned from and to summed time by the time model) and the problem is solved again, for
/// at most <c>maxRounds</c> rounds. A miss is timed a second time (the faster of both timings counts) before anything
/// is tightened. Limits are only ever tightened, and a round whose tightened problem has no solution ends the loop with
/// the previous round's architectures.
/// </summary>
public static class ClosedLoop
{
    /// <param name="solve">solves a problem (the first architecture is the one that is timed)</param>
    /// <param name="measure">the measured scenario time of an architecture and of the parent, timed together</param>
    /// <param name="measuredLimits">the problem's limits as they apply to measured times, given the parent's measured
    /// time (for a limit relative to the parent), in the order of <see cref="SearchProblem.Limits"/></param>
    /// <param name="timeResource">the resource that is time</param>
    /// <param name="margin">the share by which a measured time must beat its limit: the same two models timed in
    /// separate processes differ by a few percent, and the child is timed again later (Evaluate)</param>
    /// <param name="time">turns the problem's summed time into predicted whole time and back (none: they are equal)</param>
    public static LoopResult Run(SearchProblem problem, Func<SearchProblem, IReadOnlyList<Architecture>> solve,
        Func<Architecture, (double Model, double Parent)> measure, Func<double, IReadOnlyList<ResourceLimit>> measuredLimits,
        string timeResource, int maxRounds, double margin = 0, TimeModel? time = null)
    {
        time ??= TimeModel.Identity;
        if (margin < 0) throw new ArgumentOutOfRangeException(nameof(margin), margin, "the margin cannot be negative");
        var found = solve(problem);
        if (maxRounds < 1) return new LoopResult(found, problem, []);
        var rounds = new List<LoopRound>();
        for (var round = 1; ; round++)
        {
            var chosen = found[0];
            var predicted = time.Seconds(chosen.Cost(timeResource));
            var (measured, parent) = measure(chosen);
            var (required, missed) = Judge(problem, measuredLimits, measured, parent, timeResource, margin);
            if (missed.Contains(true))
            {
                // a miss is confirmed by timing again before anything is tightened: a moment of load on a shared machine
                // once made a child that runs at 1.5x time at 1.1x, and the loop then searched for a 2.1x child
                var (again, parentAgain) = measure(chosen);
                (measured, parent) = (Math.Min(measured, again), Math.Min(parent, parentAgain));
                (required, missed) = Judge(problem, measuredLimits, measured, parent, timeResource, margin);
            }
            var met = !missed.Contains(true);
            rounds.Add(new LoopRound(round, TimeLimits(problem, timeResource), predicted, measured, parent, met));
            if (met || round == maxRounds) return new LoopResult(found, problem, rounds);

            var error = measured / predicted;
            var tightened = problem with
            {
                Limits = problem.Limits.Select((l, i) => missed[i] ? l with { Max = Math.Min(l.Max, time.SummedFor(required[i].Max / (1 + margin) / error)) } : l).ToList(),
            };
            IReadOnlyList<Architecture> next;
            try { next = solve(tightened); }
            catch (SearchInfeasibleException) { return new LoopResult(found, problem, rounds); } // nothing faster to try
            (found, problem) = (next, tightened);
        }
    }

    /// <summary>The limits as they apply to the measured times, and which time limits the measured child misses.</summary>
    static (IReadOnlyList<ResourceLimit> Required, List<bool> Missed) Judge(SearchProblem problem, Func<double, IReadOnlyList<ResourceLimit>> measuredLimits,
        double measured, double parent, string timeResource, double margin)
    {
        var required = measuredLimits(parent);
        if (required.Count != problem.Limits.Count) throw new ArgumentException("measuredLimits must give one limit per limit of the problem");
        return (required, problem.Limits.Select((l, i) => l.Resource == timeResource && measured > required[i].Max / (1 + margin) * (1 + 1e-9)).ToList());
    }

    static List<double> TimeLimits(SearchProblem problem, string timeResource) =>
        problem.Limits.Where(l => l.Resource == timeResource).Select(l => l.Max).ToList();
}
