using System.ComponentModel;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The search for the child architecture: one variant per layer, best total score within the constraints.</summary>
[Description("The architecture search over the scored block library.")]
public sealed record SearchSpec
{
    [Description("mip: the paper's mixed-integer program; greedy; max_params: the largest fitting child (a baseline).")]
    public SearchMethod Method { get; init; } = SearchMethod.Mip;

    [Description("How many different children to find.")]
    [Bounds(Minimum = 1)]
    public int Solutions { get; init; } = 1;

    [Description("Each further solution may share at most this fraction of its blocks with every earlier one (α; see diversity_unit). Always at least one layer differs.")]
    [Bounds(ExclusiveMinimum = 0, Maximum = 1)]
    public double Diversity { get; init; } = 0.8;

    [Description("What diversity counts as shared. block (the default, as in the paper): a layer whose attention and FFN choices are both equal to an earlier solution's; at most diversity × layers of them. subblock: each equal attention or FFN choice (a whole block counts twice); at most diversity × 2 × layers.")]
    public DiversityUnit DiversityUnit { get; init; } = DiversityUnit.Block;

    [Description("Further batch sizes the constraints must hold at, besides scenario.batch; empty means scenario.batch only. Measure costs every variant at each of them, and one search applies the throughput, latency and memory constraints at each (the parameter limit does not depend on the batch): a child that misses a constraint at any of them is rejected. That one search's children are what Heal trains; predicted speedups in the report are scenario.batch's, and architectures.json lists them at the other batch sizes too.")]
    [Bounds(Minimum = 1)]
    [UniqueItems]
    public IReadOnlyList<int> BatchSizes { get; init; } = [];

    [Description("Time limit for the solver, in seconds.")]
    [Bounds(ExclusiveMinimum = 0)]
    public double TimeLimitS { get; init; } = 60;

    [Description("Closed loop: the chosen child is timed whole beside the parent and, while it misses a time constraint as measured, that constraint is tightened by the cost model's observed error and the search solves again, for at most this many timings. 0 trusts the cost model. Timed at scenario.batch only: time constraints at the further batch_sizes rest on the cost model. Not done with scenario.target (hardware that is not here cannot be timed). Builds the parent and a child on the cost device at once.")]
    [Bounds(Minimum = 0, Maximum = 10)]
    public int VerifyRounds { get; init; } = 3;

    [Description("Closed loop: the share by which the child's measured time must beat each time limit (measured time ≤ limit / (1 + verify_margin)) for the loop to accept it; a child inside the margin is searched again under a limit tightened by the margin too. Timings of the same two models in separate processes differ by a few percent (about ±4% on a shared 2-core CPU), and the Speed job times the child again: without a margin a child that just meets the target in the loop can miss it there. A child whose predicted time misses a limit with the margin to spare, and whose timing passes it, is timed a second time and must pass again. 0 accepts any child that meets the limits as measured. Unset: 0.05 where costs are timed eagerly, 0.02 with scenario.runtime: cuda_graphs, whose timings agree across processes to within 1% (on an H200 every speedup predicted in the Search and Sweep jobs was measured by the Speed job within ±0.8%): a wider margin there only makes the child smaller than the target needs.")]
    [Bounds(Minimum = 0, Maximum = 0.5)]
    public double? VerifyMargin { get; init; }

    /// <summary>The margin where <see cref="VerifyMargin"/> is unset and costs are timed eagerly: timings of the same two
    /// models in separate processes differ by about ±4% on a shared 2-core CPU.</summary>
    public const double EagerMargin = 0.05;

    /// <summary>The margin where it is unset and costs are CUDA-graph timings: twice the largest difference between a
    /// speedup predicted in one process and measured in another on the H200 (0.8%, 12 models, 2026-12-04), rounded up.</summary>
    public const double GraphMargin = 0.02;

    /// <summary>The closed loop's margin as the search acts on it (<see cref="AsActing"/> has set it).</summary>
    public double ActingMargin => VerifyMargin ?? EagerMargin;

    /// <summary>The settings as the search acts on them: diversity with one solution, the closed loop where the costs
    /// are a roofline (<paramref name="roofline"/>: hardware that is not here to time), and its margin without it, change
    /// nothing, so they take their defaults and setting them does not search again (nor train every child again); an
    /// unset margin is the one for how costs are timed (<paramref name="runtime"/>).</summary>
    public SearchSpec AsActing(bool roofline, TimingRuntime runtime)
    {
        var search = this;
        if (Solutions == 1) search = search with { Diversity = Defaults.Diversity, DiversityUnit = Defaults.DiversityUnit };
        if (roofline) search = search with { VerifyRounds = Defaults.VerifyRounds };
        search = search with
        {
            VerifyMargin = roofline || VerifyRounds == 0 ? EagerMargin
                : VerifyMargin ?? (runtime == TimingRuntime.CudaGraphs ? GraphMargin : EagerMargin),
        };
        return search;
    }

    static readonly SearchSpec Defaults = new();
}
