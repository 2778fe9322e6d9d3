
namespace Puzzle.Engine.Search;

/// <summary>Solves the same library at a series of targets (e.g. throughput 1.5×, 2×, 2.5× parent): the
/// score-versus-target front.</summary>
public static class ParetoSweep
{
    /// <summary>For each target, the best architecture of <paramref name="problemAt"/>(target), or null when no
    /// architecture meets that target's limits.</summary>
    public static IReadOnlyList<ParetoPoint> Sweep(Func<double, SearchProblem> problemAt, IEnumerable<double> targets,
        SearchMethod method = SearchMethod.Mip, TimeSpan? timeLimitPerTarget = null)
    {
        ArgumentNullException.ThrowIfNull(problemAt);
        return [.. targets.Select(target =>
        {
            var problem = problemAt(target);
            problem.Validate();
            var found = PuzzleSearch.TrySolve(problem, method, 1, 1, timeLimitPerTarget);
            return new ParetoPoint(target, found.Count > 0 ? found[0] : null);
        })];
    }

    /// <summary>A small standalone SVG plot of score against target: axes with tick labels, one point per feasible
    /// target, joined by a line in target order.</summary>
    public static string Svg(IReadOnlyList<ParetoPoint> points, string xLabel, string yLabel) =>
        SvgPlot.Render([.. points.Where(p => p.Architecture is not null).Select(p => (p.Target, p.Architecture!.Score))],
            xLabel, yLabel, $"{points.Count(p => p.Architecture is null)} of {points.Count} targets infeasible");
}
