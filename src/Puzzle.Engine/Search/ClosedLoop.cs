using Puzzle.Engine.Cost;

namespace Puzzle.Engine.Search;

/// <summary>One round of the closed loop: the time limits solved under (on summed time), and the chosen architecture's
/// whole time as the cost model predicted it and as it measured, beside the parent's measured time.</summary>
/// <param name="Retimed">why the first timing was taken again (<see cref="LoopRetiming.None"/>: it was not)</param>
public sealed record LoopRound(int Round, IReadOnlyList<double> TimeLimits, double PredictedSeconds, double MeasuredSeconds,
    double ParentMeasuredSeconds, bool Met, LoopRetiming Retimed = LoopRetiming.None)
{
    /// <summary>How many times the two were timed.</summary>
    public int Timings => Retimed == LoopRetiming.None ? 1 : 2;
}

/// <summary>Why the closed loop timed a child a second time before judging it.</summary>
public enum LoopRetiming
{
    /// <summary>One timing was judged.</summary>
    None,
    /// <summary>The first timing missed a time limit: the faster of both timings counts, for each model (and a pass
    /// the prediction does not support needs the second timing to pass on its own).</summary>
    Missed,
    /// <summary>The parent timed far from its expected time: the faster of both timings counts, for each model (and
    /// a pass the prediction does not support needs the second timing to pass on its own too).</summary>
    ParentUnsteady,
    /// <summary>The first timing passed only by beating the cost model's prediction, which itself misses a time limit
    /// with the margin to spare: the second timing must pass too.</summary>
    FasterThanPredicted,
}

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
/// at most <c>maxRounds</c> rounds. A timing is taken a second time (the faster of both counting, for each model) before
/// it is trusted when it misses, and when the parent's time in it is more than <see cref="Steady"/> from the parent's
/// expected time (as the cost model's Measure job timed it): the machine's speed moved, which can pass a child as much
/// as fail one. A pass the prediction does not support (the predicted whole time misses a limit as first specified, with
/// the margin to spare, so only a timing faster than predicted passed it) is timed again too, and stands only if the
/// second timing passes as well: the search picks the best child its limits allow, so the first prediction sits at the
/// limit, and a timing a few percent fast then passes a child that the Speed job, timing it again, measures short of
/// its target. Limits are only ever tightened, and a round whose tightened problem has no solution ends the loop with
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
    /// <param name="parentExpected">the parent's time as the costs were timed (null: not known, never compared)</param>
    public static LoopResult Run(SearchProblem problem, Func<SearchProblem, IReadOnlyList<Architecture>> solve,
        Func<Architecture, (double Model, double Parent)> measure, Func<double, IReadOnlyList<ResourceLimit>> measuredLimits,
        string timeResource, int maxRounds, double margin = 0, TimeModel? time = null, double? parentExpected = null)
    {
        time ??= TimeModel.Identity;
        if (margin < 0) throw new ArgumentOutOfRangeException(nameof(margin), margin, "the margin cannot be negative");
        var found = solve(problem);
        if (maxRounds < 1) return new LoopResult(found, problem, []);
        var specified = problem;
        var rounds = new List<LoopRound>();
        for (var round = 1; ; round++)
        {
            var chosen = found[0];
            var predicted = time.Seconds(chosen.Cost(timeResource));
            var (measured, parent) = measure(chosen);
            var (required, missed) = Judge(problem, measuredLimits, measured, parent, timeResource, margin);
            var supported = PredictionClears(specified, chosen, time, timeResource, margin);
            var retimed = missed.Contains(true) ? LoopRetiming.Missed
                : !IsSteady(parent, parentExpected) ? LoopRetiming.ParentUnsteady
                : !supported ? LoopRetiming.FasterThanPredicted
                : LoopRetiming.None;
            if (retimed != LoopRetiming.None)
            {
                var (again, parentAgain) = measure(chosen);
                var (requiredAgain, missedAgain) = Judge(problem, measuredLimits, again, parentAgain, timeResource, margin);
                if (retimed != LoopRetiming.FasterThanPredicted)
                {
                    // a miss is confirmed by timing again before anything is tightened: a moment of load on a shared
                    // machine once made a child that runs at 1.5x time at 1.1x, and the loop then searched for a 2.1x
                    // child. A pass is when the parent timed far from its expected time: once the parent timed 58% slow
                    // beside a child 49% slow, and the child passed at 1.62x where the Speed job then measured it at
                    // 1.46x for 1.5x. The faster of both timings counts, for each model
                    (measured, parent) = (Math.Min(measured, again), Math.Min(parent, parentAgain));
                    (required, missed) = Judge(problem, measuredLimits, measured, parent, timeResource, margin);
                }
                // moby-2x's child, predicted at 2.01x for 2x, timed once at 2.10x (enough with the 5% margin) and then
                // measured 1.95x in the Speed job: a pass the prediction does not support stands only if the second
                // timing passes on its own too (not only when mixed with the first's other model), and a miss is judged
                // on the timing that missed
                if (!supported && !missed.Contains(true) && missedAgain.Contains(true))
                    (measured, parent, required, missed) = (again, parentAgain, requiredAgain, missedAgain);
            }
            var met = !missed.Contains(true);
            rounds.Add(new LoopRound(round, TimeLimits(problem, timeResource), predicted, measured, parent, met, retimed));
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

    /// <summary>How far the parent's time in a closed-loop timing may be from its expected time before the timing is
    /// taken again: timings of the same parent in separate processes of this project's 2-core CPU agree within a few
    /// percent when the machine is steady (README, "How costs are timed").</summary>
    public const double Steady = 0.10;

    /// <summary>Whether a parent's time is within <see cref="Steady"/> of its expected time (always, with none expected).</summary>
    public static bool IsSteady(double parent, double? expected) => expected is not { } e || e <= 0 || Math.Abs(parent / e - 1) <= Steady;

    /// <summary>Whether the architecture's predicted whole time meets every time limit of the problem as first
    /// specified (before any tightening) with the margin to spare.</summary>
    static bool PredictionClears(SearchProblem specified, Architecture chosen, TimeModel time, string timeResource, double margin) =>
        specified.Limits.Where(l => l.Resource == timeResource)
            .All(l => time.Seconds(chosen.Cost(timeResource)) <= time.Seconds(l.Max) / (1 + margin) * (1 + 1e-9));

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
