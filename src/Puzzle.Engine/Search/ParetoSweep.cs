
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
}
