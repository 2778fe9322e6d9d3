namespace Puzzle.Engine.Search;

/// <summary>The Search job's closed loop as architectures.json and report.json record it: each round, whether the last
/// met the time constraints as measured (null: no round ran), and whether the limits were tightened.</summary>
public sealed record ClosedLoopSummary(IReadOnlyList<ClosedLoopRound> Rounds, bool? Met, bool Tightened);

/// <summary>One round: the time limits solved under, the chosen child's predicted and measured time, the parent's, how
/// many timings it took (2: the first was taken again) and why (<see cref="LoopRetiming"/>: after a miss or beside an
/// unsteady parent the faster of both timings counts; after a pass the prediction did not support, both must pass).</summary>
public sealed record ClosedLoopRound(int Round, IReadOnlyList<double> TimeLimitsS, double PredictedTimeS, double MeasuredTimeS,
    double ParentMeasuredTimeS, double MeasuredSpeedup, bool Met, int Timings = 1, LoopRetiming Retimed = LoopRetiming.None);
