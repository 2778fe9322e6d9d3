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
    bool _products; // the model has z = x ∧ y variables (block diversity)

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

    /// <summary>The diversity constraint against an earlier solution s, never more than L − 1 layers (2L − 1 slots)
    /// shared, so a solution differs from every earlier one even at α = 1.
    /// <see cref="DiversityUnit.Block"/> (the paper's): z[l] = x[l, a_s] ∧ y[l, f_s] (1 when layer l keeps s's whole
    /// block), Σ_l z[l] ≤ α·L. z is tied both ways (z ≤ x, z ≤ y, z ≥ x + y − 1), so it is exactly the product
    /// whatever the solver's presolve does with a variable that appears in no objective.
    /// <see cref="DiversityUnit.Subblock"/>: Σ_l (x[l, a_s] + y[l, f_s]) ≤ α·2L, a layer of whole blocks counting 2.</summary>
    public void SharesAtMost(Selection earlier, double diversity, DiversityUnit unit)
    {
        var layers = (long)_p.Layers.Count;
        var units = unit == DiversityUnit.Block ? layers : 2 * layers;
        var shared = LinearExpr.NewBuilder();
        for (var l = 0; l < _p.Layers.Count; l++)
        {
            var x = _x[l][earlier.Attention[l]];
            if (earlier.Ffn[l] < 0) shared.AddTerm(x, unit == DiversityUnit.Block ? 1 : 2);
            else if (unit == DiversityUnit.Subblock) shared.Add(x).Add(_y[l][earlier.Ffn[l]]);
            else shared.Add(Both(x, _y[l][earlier.Ffn[l]]));
        }
        _model.Add(shared <= Math.Min((long)Math.Floor(diversity * units + 1e-9), units - 1));
    }

    /// <summary>A new Boolean equal to <paramref name="x"/> ∧ <paramref name="y"/>.</summary>
    BoolVar Both(BoolVar x, BoolVar y)
    {
        var z = _model.NewBoolVar($"{x.Name()}&{y.Name()}");
        _products = true;
        _model.Add(z <= x);
        _model.Add(z <= y);
        _model.Add(z >= x + y - 1);
        return z;
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
            solver.StringParameters = Parameters(timeLimit, relativeGap, _products);
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
    /// 80-layer library (0.6 s with it; no change for the score objective).
    /// No inclusion presolve: in OR-Tools 9.15 it can cut off the optimum and still report OPTIMAL (google/or-tools
    /// issue 5293, ProcessAtMostOneAndLinear). Our exactly-one-per-layer rows beside the diversity row hit it: on a
    /// random 4-layer library (PaperDiversityTests, seed 3, α = 0.25) the second solution scored 0.297 where
    /// exhaustive enumeration finds 0.221; without inclusion presolve every brute-force check agrees.
    /// Once the model holds block-diversity products (z = x ∧ y), the fuller linear relaxation of level 2: on the
    /// benchmark's 80 × 6 × 9 library (α = 0.8, 60 s, a busy 2-core machine) it found 9 of 10 diverse solutions, 8
    /// proven optimal, where the default level found 2.</summary>
    static string Parameters(TimeSpan? timeLimit, double relativeGap, bool products)
    {
        var text = new List<string> { "num_workers:1", "random_seed:0", "symmetry_level:4", "presolve_inclusion_work_limit:0" };
        if (products) text.Add("linearization_level:2");
        if (timeLimit is { } t) text.Add($"max_time_in_seconds:{Math.Max(t.TotalSeconds, 0.001).ToString("R", CultureInfo.InvariantCulture)}");
        if (relativeGap > 0) text.Add($"relative_gap_limit:{relativeGap.ToString("R", CultureInfo.InvariantCulture)}");
        return string.Join(" ", text);
    }

    Selection Read(CpSolver solver) => new(
        [.. _x.Select(options => Array.FindIndex(options, v => solver.BooleanValue(v)))],
        [.. _y.Select(options => options.Length == 0 ? -1 : Array.FindIndex(options, v => solver.BooleanValue(v)))]);
}
