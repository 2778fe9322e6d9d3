using System.Diagnostics;

namespace Puzzle.Engine.Search;

/// <summary>
/// Picks one option per layer slot under resource limits (paper §"Search"). <see cref="SearchMethod.Mip"/> is the
/// paper's mixed-integer program (CP-SAT, exact, one worker: the same problem gives the same answer);
/// <see cref="SearchMethod.Greedy"/> and <see cref="SearchMethod.MaxParams"/> are the paper's ablation baselines.
/// </summary>
public static class PuzzleSearch
{
    /// <summary>
    /// Up to <paramref name="solutions"/> architectures, best first. Each further one shares at most
    /// <paramref name="diversity"/>·L of its L blocks with every earlier one (<paramref name="unit"/> Block, the
    /// paper's: a layer is shared when its attention and its FFN choice are both equal), or at most
    /// <paramref name="diversity"/>·2L of its 2L subblock choices (Subblock: a whole block counts for two); the
    /// search stops early, without error, when no further such architecture exists. Mip sorts by score, MaxParams by
    /// parameters (most first); Greedy returns one architecture.
    /// </summary>
    /// <param name="timeLimit">Wall-clock budget for the whole call (null: none). When it cuts a solve short the
    /// best architecture found so far is returned with <see cref="Architecture.Optimal"/> false, and the answer may
    /// then depend on machine speed.</param>
    /// <param name="relativeGap">MIP and MaxParams: stop the solve of each further solution (not the first, which is
    /// always proven optimal) once its objective is proven within this fraction of the optimum (0: prove optimality).
    /// Proving later diverse solutions optimal is what takes time (benchmarks/results/search.json).</param>
    /// <exception cref="SearchInfeasibleException">No architecture meets the limits.</exception>
    /// <exception cref="TimeoutException">The time limit passed before any architecture was found.</exception>
    public static IReadOnlyList<Architecture> Solve(SearchProblem problem, SearchMethod method, int solutions = 1,
        double diversity = 0.8, TimeSpan? timeLimit = null, double relativeGap = 0, DiversityUnit unit = DiversityUnit.Block)
    {
        ArgumentNullException.ThrowIfNull(problem);
        problem.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(solutions, 1);
        if (!(diversity >= 0 && diversity <= 1)) throw new ArgumentOutOfRangeException(nameof(diversity), diversity, "diversity must be in [0, 1]");
        if (!(relativeGap >= 0)) throw new ArgumentOutOfRangeException(nameof(relativeGap), relativeGap, "the gap must be at least 0");
        var found = TrySolve(problem, method, solutions, diversity, timeLimit, relativeGap, unit);
        return found.Count > 0 ? found : throw Infeasibility.Explain(problem, timeLimit);
    }

    /// <summary>As <see cref="Solve"/>, but an empty list when no architecture meets the limits (no explanation).</summary>
    internal static IReadOnlyList<Architecture> TrySolve(SearchProblem problem, SearchMethod method, int solutions,
        double diversity, TimeSpan? timeLimit, double relativeGap = 0, DiversityUnit unit = DiversityUnit.Block)
    {
        switch (method)
        {
            case SearchMethod.Greedy:
                if (GreedySearch.Run(problem) is { } greedy) return [greedy.ToArchitecture(problem, false)];
                if (new MipModel(problem).WithLimits(problem).Solve(timeLimit).Selection is null) return [];
                throw new InvalidOperationException(
                    "the greedy search got stuck before meeting every limit, although the MIP finds an architecture that meets them");
            case SearchMethod.Mip:
                return [.. Diverse(problem, m => m.MinimiseScore(), solutions, diversity, timeLimit, relativeGap, unit).OrderBy(a => a.Score)];
            case SearchMethod.MaxParams:
                return [.. Diverse(problem, m => m.MaximiseParameters(), solutions, diversity, timeLimit, relativeGap, unit).OrderByDescending(a => a.Parameters)];
            default:
                throw new ArgumentOutOfRangeException(nameof(method), method, null);
        }
    }

    /// <summary>Solve, then forbid sharing more than α·L blocks (or α·2L subblocks) with that solution, and solve
    /// again, k times.</summary>
    static List<Architecture> Diverse(SearchProblem problem, Action<MipModel> objective, int solutions, double diversity,
        TimeSpan? timeLimit, double relativeGap, DiversityUnit unit)
    {
        var clock = Stopwatch.StartNew();
        var model = new MipModel(problem).WithLimits(problem);
        objective(model);
        var found = new List<Architecture>();
        while (found.Count < solutions)
        {
            var left = timeLimit - clock.Elapsed;
            if (left <= TimeSpan.Zero && found.Count > 0) break;
            var result = model.Solve(left, found.Count == 0 ? 0 : relativeGap); // the best child is always proven
            if (result.Selection is null)
            {
                if (result.TimedOut && found.Count == 0)
                    throw new TimeoutException($"the search found no architecture within {timeLimit}");
                break;
            }
            found.Add(result.Selection.ToArchitecture(problem, result.Optimal));
            model.SharesAtMost(result.Selection, diversity, unit);
        }
        return found;
    }
}
