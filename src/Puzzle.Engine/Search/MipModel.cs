using System.Globalization;
using Google.OrTools.Sat;

namespace Puzzle.Engine.Search;

/// <summary>
/// The paper's mixed-integer program on CP-SAT. Binary x[l, a] = 1 when layer l uses attention option a (or block
/// a) and y[l, f] = 1 when it uses FFN option f; each layer picks exactly one of each; every limit bounds the summed
/// costs. Scores and costs are scaled to integers (<see cref="IntegerScaling"/>), costs rounded up and limits down;
/// a solution is only returned once it meets the real limits. One worker and a fixed seed make the same problem give
/// the same answer.
/// </summary>
internal sealed class MipModel
{
    const int MaxRoundingCuts = 100;

    readonly SearchProblem _p;
    readonly CpModel _model = new();
    readonly BoolVar[][] _x;
    readonly BoolVar[][] _y;
    readonly List<(string Resource, double Allowed)> _limits = [];

    public MipModel(SearchProblem p)
    {
        _p = p;
        _x = [.. p.Layers.Select((layer, l) => layer.Attention.Select((_, a) => _model.NewBoolVar($"x[{l},{a}]")).ToArray())];
        _y = [.. p.Layers.Select((layer, l) => layer.Ffn.Select((_, f) => _model.NewBoolVar($"y[{l},{f}]")).ToArray())];
        for (var l = 0; l < p.Layers.Count; l++)
        {
            EachLayerPicksOne(_x[l]);
            if (_y[l].Length > 0) EachLayerPicksOne(_y[l]);
        }
    }

    /// <summary>Σ_a x[l, a] = 1 (and Σ_f y[l, f] = 1).</summary>
    void EachLayerPicksOne(BoolVar[] options) => _model.AddExactlyOne(options);

    /// <summary>fixed_r + Σ_l Σ_a c_r(l, a)·x[l, a] + Σ_l Σ_f c_r(l, f)·y[l, f] ≤ max_r (+ tolerance).</summary>
    public void ResourceWithinLimit(ResourceLimit limit)
    {
        var allowed = IntegerScaling.Allowed(_p, limit);
        _limits.Add((limit.Resource, allowed));
        var headroom = allowed - _p.Fixed(limit.Resource);
        if (double.IsPositiveInfinity(headroom)) return;
        var scale = IntegerScaling.Resource(_p, limit);
        var cost = Weighted(o => IntegerScaling.Up(o.Cost(limit.Resource), scale));
        _model.Add(cost <= IntegerScaling.Down(headroom, scale));
    }

    /// <summary>Every limit of <paramref name="p"/>.</summary>
    public MipModel WithLimits(SearchProblem p)
    {
        foreach (var limit in p.Limits) ResourceWithinLimit(limit);
        return this;
    }

    /// <summary>The paper's diversity constraint against an earlier solution s: the blocks shared with it,
    /// Σ_l (x[l, a_s]·1 + y[l, f_s]·1), at most α·2L (a whole block counts for both subblocks), and at least one
    /// subblock different even at α = 1.</summary>
    public void SharesAtMost(Selection earlier, double diversity)
    {
        var slots = 2L * _p.Layers.Count;
        var shared = LinearExpr.NewBuilder();
        for (var l = 0; l < _p.Layers.Count; l++)
        {
            if (earlier.Ffn[l] < 0) shared.AddTerm(_x[l][earlier.Attention[l]], 2);
            else shared.Add(_x[l][earlier.Attention[l]]).Add(_y[l][earlier.Ffn[l]]);
        }
        _model.Add(shared <= Math.Min((long)Math.Floor(diversity * slots + 1e-9), slots - 1));
    }

    /// <summary>Cuts off exactly this selection (used when it only met a limit through the last bit of floating-point
    /// rounding of the fixed costs).</summary>
    void Exclude(Selection s)
    {
        var chosen = new List<ILiteral>();
        for (var l = 0; l < _p.Layers.Count; l++)
        {
            chosen.Add(_x[l][s.Attention[l]]);
            if (s.Ffn[l] >= 0) chosen.Add(_y[l][s.Ffn[l]]);
        }
        _model.AddBoolOr(chosen.Select(c => c.Not()));
    }

    /// <summary>minimise Σ score(l, a)·x[l, a] + Σ score(l, f)·y[l, f].</summary>
    public void MinimiseScore()
    {
        var scale = IntegerScaling.Score(_p);
        _model.Minimize(Weighted(o => IntegerScaling.Round(o.Score, scale)));
    }

    /// <summary>maximise Σ parameters (the paper's "maximise parameters" baseline).</summary>
    public void MaximiseParameters() => _model.Maximize(Weighted(o => o.Parameters));

    /// <summary>minimise the summed cost of <paramref name="limit"/>'s resource (for infeasibility reports).</summary>
    public void MinimiseResource(ResourceLimit limit)
    {
        var scale = IntegerScaling.Resource(_p, limit);
        _model.Minimize(Weighted(o => IntegerScaling.Round(o.Cost(limit.Resource), scale)));
    }

    LinearExpr Weighted(Func<SearchOption, long> coefficient)
    {
        var sum = LinearExpr.NewBuilder();
        for (var l = 0; l < _p.Layers.Count; l++)
        {
            var layer = _p.Layers[l];
            for (var a = 0; a < _x[l].Length; a++) sum.AddTerm(_x[l][a], coefficient(layer.Attention[a]));
            for (var f = 0; f < _y[l].Length; f++) sum.AddTerm(_y[l][f], coefficient(layer.Ffn[f]));
        }
        return sum;
    }

    /// <summary>Solves; the selection meets every limit. Null selection when infeasible or when the time limit passed
    /// before any solution was found (then <c>TimedOut</c>). A positive <paramref name="relativeGap"/> lets CP-SAT stop
    /// once the objective is proven within that fraction of the optimum; <c>Optimal</c> is then only true if the
    /// bound met the objective.</summary>
    public MipResult Solve(TimeSpan? timeLimit, double relativeGap = 0)
    {
        for (var cut = 0; cut <= MaxRoundingCuts; cut++)
        {
            using var solver = new CpSolver();
            solver.StringParameters = Parameters(timeLimit, relativeGap);
            var status = solver.Solve(_model);
            switch (status)
            {
                case CpSolverStatus.Infeasible: return new MipResult(null, false, false);
                case CpSolverStatus.Unknown: return new MipResult(null, false, true);
                case CpSolverStatus.ModelInvalid:
                    throw new InvalidOperationException($"CP-SAT rejected the search model: {_model.Validate()}");
            }
            var s = Read(solver);
            if (_limits.All(limit => s.Total(_p, limit.Resource) <= limit.Allowed))
                return new MipResult(s, status == CpSolverStatus.Optimal && solver.ObjectiveValue == solver.BestObjectiveBound, false);
            Exclude(s);
        }
        throw new InvalidOperationException($"the search kept finding architectures that break a limit by floating-point rounding ({MaxRoundingCuts} cut off)");
    }

    /// <summary>One worker and a fixed seed: CP-SAT's search is then deterministic (unless the time limit cuts it).
    /// Full symmetry handling: layers with the same per-shape costs are interchangeable when the objective does not
    /// tell them apart (maximise parameters), and without it CP-SAT could not prove that optimum within a minute on an
    /// 80-layer library (0.6 s with it; no change for the score objective).</summary>
    static string Parameters(TimeSpan? timeLimit, double relativeGap)
    {
        var text = new List<string> { "num_workers:1", "random_seed:0", "symmetry_level:4" };
        if (timeLimit is { } t) text.Add($"max_time_in_seconds:{Math.Max(t.TotalSeconds, 0.001).ToString("R", CultureInfo.InvariantCulture)}");
        if (relativeGap > 0) text.Add($"relative_gap_limit:{relativeGap.ToString("R", CultureInfo.InvariantCulture)}");
        return string.Join(" ", text);
    }

    Selection Read(CpSolver solver) => new(
        [.. _x.Select(options => Array.FindIndex(options, v => solver.BooleanValue(v)))],
        [.. _y.Select(options => options.Length == 0 ? -1 : Array.FindIndex(options, v => solver.BooleanValue(v)))]);
}
