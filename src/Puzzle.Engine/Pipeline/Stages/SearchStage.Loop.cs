using System.Text.Json.Nodes;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Pipeline.Stages;

// The Search job's closed loop: part of the stage, since it times on the job's cost device and logs to its job log;
// the loop itself (re-solve under tightened limits) is Search/ClosedLoop.
public sealed partial class SearchStage
{
    /// <summary>The rounds of <see cref="CostMeter.InRounds"/> each closed-loop timing of the parent and the child takes.</summary>
    public const int LoopRounds = 2;

    /// <summary>
    /// The Search job's closed loop (<c>search.verify_rounds</c>): times the chosen child and the parent whole, in the
    /// scenario on the cost device, as Measure and Speed time (<see cref="CostMeter.InRounds"/>), and lets
    /// <see cref="ClosedLoop"/> tighten the time limits the child misses as measured. Timed at scenario.batch only: the
    /// time limits at the further batch sizes of search.batch_sizes rest on the cost model (timing each would multiply
    /// the loop's cost by the number of batch sizes).
    /// </summary>
    internal static class SearchLoop
    {
        public static LoopResult Run(JobContext context, SearchStage.SearchJob job, SearchProblem problem,
            IReadOnlyDictionary<int, ArchitectureProblem.Totals> ownAt, Func<SearchProblem, IReadOnlyList<Architecture>> solve)
        {
            var (spec, parent, batch) = (job.Problem, job.Parent, job.Batch);
            var rounds = job.Search.VerifyRounds;
            if (spec.Scenario.Target is not null && rounds > 0)
            {
                context.Log.WriteLine($"closed loop: skipped, the costs are the roofline of {spec.Scenario.Target}, which is not here to time");
                rounds = 0;
            }
            if (rounds == 0 || !problem.Limits.Any(l => l.Resource == ArchitectureProblem.Time)) return ClosedLoop.Run(problem, solve, _ => default, _ => [], ArchitectureProblem.Time, 0);

            var device = context.CostDevice;
            var timings = 0;
            (double, double) Measure(Architecture chosen)
            {
                var child = VariantCatalog.ToModel(parent, spec.SearchSpace.Alternatives, chosen.Layers);
                // a real parent's timings take minutes on a CPU: say what is timed, and how far it is
                context.Log.WriteLine($"closed loop, timing {++timings}: the parent and a child predicted at {ownAt[batch].Speedup(chosen.Cost(ArchitectureProblem.Time)):0.00}x, " +
                                      $"whole, in {LoopRounds} rounds");
                var timed = CostMeter.InRoundsLogged([parent, child], spec.Scenario.Timing(), batch, LoopRounds, device, context.Log);
                return (timed[1].ScenarioSeconds(spec.Scenario.Generate), timed[0].ScenarioSeconds(spec.Scenario.Generate));
            }
            var result = ClosedLoop.Run(problem, solve, Measure, p => MeasuredLimits(spec, ownAt, p), ArchitectureProblem.Time, rounds, job.Search.ActingMargin,
                ownAt[batch].Whole, ownAt[batch].MeasuredTimeSeconds);
            foreach (var r in result.Rounds)
                context.Log.WriteLine($"closed loop, round {r.Round}: child predicted {r.PredictedSeconds * 1e3:F1} ms, measured {r.MeasuredSeconds * 1e3:F1} ms " +
                                      $"({r.ParentMeasuredSeconds / r.MeasuredSeconds:0.00}x the parent's {r.ParentMeasuredSeconds * 1e3:F1} ms): " +
                                      (r.Met ? "meets the constraints as measured" : "misses a time constraint as measured") +
                                      (job.Search.ActingMargin > 0 ? $", with {job.Search.ActingMargin:0.##%} to spare" : "") +
                                      r.Retimed switch
                                      {
                                          LoopRetiming.Missed => " (the faster of 2 timings: the first missed)",
                                          LoopRetiming.ParentUnsteady => $" (the faster of 2 timings: the first timed the parent more than {ClosedLoop.Steady:P0} " +
                                                                         $"from the Measure job's {ownAt[batch].MeasuredTimeSeconds * 1e3:F1} ms)",
                                          LoopRetiming.FasterThanPredicted => " (timed twice: the first timing passed only by beating the prediction, which misses " +
                                                                              "the target with the margin, so the second must pass too" + (r.Met ? ", and did)" : "; the times are the second's, which missed)"),
                                          _ => "",
                                      });
            return result;
        }

        /// <summary>The problem's limits as they apply to measured times: the parent's predicted time at scenario.batch
        /// replaced by its measured one (the other batch sizes keep the cost model's), in the order of the problem's.</summary>
        internal static IReadOnlyList<ResourceLimit> MeasuredLimits(ArchitectureProblem.Settings spec, IReadOnlyDictionary<int, ArchitectureProblem.Totals> ownAt,
            double parentMeasuredSeconds) =>
            ArchitectureProblem.Limits(spec, ownAt.ToDictionary(p => p.Key,
                p => p.Key == spec.Scenario.Batch ? p.Value.MeasuredAs(parentMeasuredSeconds) : p.Value));

        /// <summary>The loop for architectures.json: every round, whether the last one met the constraints, the limits.</summary>
        public static ClosedLoopSummary Describe(LoopResult loop, SearchProblem asSpecified) => new(
            loop.Rounds.Select(r => new ClosedLoopRound(r.Round, r.TimeLimits.ToList(), r.PredictedSeconds, r.MeasuredSeconds, r.ParentMeasuredSeconds,
                r.ParentMeasuredSeconds / r.MeasuredSeconds, r.Met, r.Timings, r.Retimed)).ToList(),
            loop.Rounds.Count == 0 ? null : loop.Met, !loop.Problem.Limits.SequenceEqual(asSpecified.Limits));
    }
}
