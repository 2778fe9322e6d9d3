using System.Diagnostics;
using Google.OrTools.LinearSolver;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;
using SearchOption = Puzzle.Engine.Search.SearchOption; // System.IO has one too

namespace Puzzle.Benchmarks;

/// <summary>
/// Issue 5's numbers: the architecture search on a random library of the paper's shape (80 layers × 6 attention ×
/// 9 FFN options) with a memory limit (70% of the parent) and a time limit (50% of the parent: 2× throughput).
/// Median solve time of the MIP for 1 solution (five libraries) and for 10 diverse solutions (CP-SAT, 1 worker,
/// exact and with a relative gap), the baselines' times and scores, and, to justify the backend, the same MIP on
/// OR-Tools' linear solver with SCIP and CBC (doubles, relative gap 0, one thread). Takes about 10 minutes.
/// </summary>
public static class SearchBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("search");
        var quick = args.Contains("quick"); // quick: skip the exact diverse run and the other backends (minutes)
        var problem = Library(seed: 0);
        Architecture? best = null;
        var one = Measure.MedianSeconds(() => best = PuzzleSearch.Solve(problem, SearchMethod.Mip)[0], warmup: 1, repeats: 7);
        report.Add("MIP, 1 solution (CP-SAT, 1 worker)", one, "s", $"80×6×9, time ≤ 50% and memory ≤ 70% of parent; goal ≤ 1 s; score {best!.Score:G6}, optimal {best.Optimal}");
        foreach (var seed in quick ? [] : new[] { 1, 2, 3, 4 })
        {
            var other = Library(seed);
            Architecture? a = null;
            var t = Measure.MedianSeconds(() => a = PuzzleSearch.Solve(other, SearchMethod.Mip)[0], warmup: 1, repeats: 3);
            report.Add($"MIP, 1 solution, library seed {seed}", t, "s", $"score {a!.Score:G6}, optimal {a.Optimal}");
        }

        foreach (var gap in quick ? [1e-3] : new[] { 0, 1e-4, 1e-3 })
        {
            IReadOnlyList<Architecture> ten = [];
            var diverse = Measure.MedianSeconds(() => ten = PuzzleSearch.Solve(problem, SearchMethod.Mip, solutions: 10, diversity: 0.8, relativeGap: gap), warmup: 0, repeats: 3);
            report.Add($"MIP, 10 diverse solutions (α = 0.8), relative gap {gap:G}", diverse, "s",
                $"{ten.Count} found, scores {ten[0].Score:G6} … {ten[^1].Score:G6}, proven optimal: {ten.Count(a => a.Optimal)}");
        }

        Architecture? greedy = null, largest = null;
        var tg = Measure.MedianSeconds(() => greedy = PuzzleSearch.Solve(problem, SearchMethod.Greedy)[0], warmup: 1, repeats: 5);
        report.Add("greedy, 1 solution", tg, "s", $"score {greedy!.Score:G6} ({greedy.Score / best.Score:0.000}× the MIP's)");
        var tp = Measure.MedianSeconds(() => largest = PuzzleSearch.Solve(problem, SearchMethod.MaxParams)[0], warmup: 1, repeats: 3);
        report.Add("max parameters, 1 solution", tp, "s", $"score {largest!.Score:G6} ({largest.Score / best.Score:0.00}× the MIP's)");

        if (quick) return report;
        foreach (var backend in new[] { "SCIP", "CBC" })
        {
            double[] scores = [];
            var t = Measure.MedianSeconds(() => scores = LinearSolverBackend(problem, backend, 1), warmup: 1, repeats: 3);
            report.Add($"same MIP, 1 solution, on the linear solver with {backend}", t, "s", $"score {Show(scores)} (CP-SAT: {best.Score:G6})");
        }
        var clock = Stopwatch.StartNew();
        var scip = LinearSolverBackend(problem, "SCIP", 10);
        report.Add("same MIP, 10 diverse solutions, SCIP (one run)", clock.Elapsed.TotalSeconds, "s", $"scores {Show(scip)}");
        return report;
    }

    static string Show(double[] scores) => scores.Length == 0 ? "none within 60 s"
        : scores.Length == 1 ? scores[0].ToString("G6") : $"{scores[0]:G6} … {scores[^1]:G6}";

    /// <summary>A library shaped like the paper's: costs depend on the variant's shape only (measured once per
    /// shape), scores on the layer (some layers matter more) and grow as variants get cheaper.</summary>
    public static SearchProblem Library(int seed)
    {
        var rng = new Random(seed);
        (string Id, double Time, double Memory, long Params, double Damage)[] attention =
        [
            ("gqa8", 1.00, 1.00, 4_000_000, 0), ("gqa4", 0.85, 0.75, 3_000_000, 0.2), ("gqa2", 0.78, 0.62, 2_500_000, 0.45),
            ("gqa1", 0.74, 0.56, 2_250_000, 0.8), ("linear", 0.20, 0.25, 1_000_000, 2.0), ("no_op", 0, 0, 0, 3.0),
        ];
        (string Id, double Time, double Memory, long Params, double Damage)[] ffn =
        [
            ("ffn1.0", 1.6, 1.0, 12_000_000, 0), ("ffn0.87", 1.42, 0.87, 10_500_000, 0.1), ("ffn0.75", 1.25, 0.75, 9_000_000, 0.25),
            ("ffn0.62", 1.07, 0.62, 7_500_000, 0.45), ("ffn0.5", 0.9, 0.5, 6_000_000, 0.7), ("ffn0.37", 0.72, 0.37, 4_500_000, 1.0),
            ("ffn0.25", 0.55, 0.25, 3_000_000, 1.5), ("linear", 0.15, 0.08, 1_000_000, 2.5), ("no_op", 0, 0, 0, 3.5),
        ];
        var layers = Enumerable.Range(0, 80).Select(l =>
        {
            var sensitivity = 0.001 * Math.Exp(2 * rng.NextDouble()) * (l < 4 || l > 76 ? 10 : 1);
            SearchOption Option((string Id, double Time, double Memory, long Params, double Damage) v, double memoryScale) => new(v.Id,
                v.Damage == 0 ? 0 : sensitivity * v.Damage * (0.7 + 0.6 * rng.NextDouble()),
                new Dictionary<string, double> { ["time_s"] = 1e-4 * v.Time, ["memory_bytes"] = memoryScale * v.Memory }, v.Params);
            return new SearchLayer(l, [.. attention.Select(v => Option(v, 24e6))], [.. ffn.Select(v => Option(v, 24e6))]);
        }).ToList();
        var fixedCosts = new Dictionary<string, double> { ["time_s"] = 2e-3, ["memory_bytes"] = 200e6 };
        var parent = new SearchProblem(layers, fixedCosts, []);
        double Parent(string r) => fixedCosts[r] + layers.Sum(l => l.Attention[0].Cost(r) + l.Ffn[0].Cost(r));
        return parent with
        {
            Limits =
            [
                new ResourceLimit("time_s", 0.5 * Parent("time_s"), "throughput ≥ 2.0× parent"),
                new ResourceLimit("memory_bytes", 0.7 * Parent("memory_bytes"), "memory ≤ 0.7× parent"),
            ],
        };
    }

    /// <summary>The same program on doubles with OR-Tools' linear solver (x, y binary; exactly one per layer; each
    /// limit row divided by its headroom; min score; relative gap 0; one thread), k diverse solutions.</summary>
    static double[] LinearSolverBackend(SearchProblem p, string backend, int k)
    {
        using var solver = Solver.CreateSolver(backend) ?? throw new InvalidOperationException($"{backend} is not available");
        solver.SetTimeLimit(60_000);
        solver.SetNumThreads(1);
        var x = p.Layers.Select((layer, l) => layer.Attention.Select((_, a) => solver.MakeBoolVar($"x_{l}_{a}")).ToArray()).ToArray();
        var y = p.Layers.Select((layer, l) => layer.Ffn.Select((_, f) => solver.MakeBoolVar($"y_{l}_{f}")).ToArray()).ToArray();
        for (var l = 0; l < p.Layers.Count; l++)
        {
            var one = solver.MakeConstraint(1, 1);
            foreach (var v in x[l]) one.SetCoefficient(v, 1);
            var oneFfn = solver.MakeConstraint(1, 1);
            foreach (var v in y[l]) oneFfn.SetCoefficient(v, 1);
        }
        foreach (var limit in p.Limits)
        {
            var scale = 1 / (limit.Max - p.Fixed(limit.Resource));
            var c = solver.MakeConstraint(double.NegativeInfinity, 1);
            for (var l = 0; l < p.Layers.Count; l++)
            {
                for (var a = 0; a < x[l].Length; a++) c.SetCoefficient(x[l][a], scale * p.Layers[l].Attention[a].Cost(limit.Resource));
                for (var f = 0; f < y[l].Length; f++) c.SetCoefficient(y[l][f], scale * p.Layers[l].Ffn[f].Cost(limit.Resource));
            }
        }
        var objective = solver.Objective();
        for (var l = 0; l < p.Layers.Count; l++)
        {
            for (var a = 0; a < x[l].Length; a++) objective.SetCoefficient(x[l][a], p.Layers[l].Attention[a].Score);
            for (var f = 0; f < y[l].Length; f++) objective.SetCoefficient(y[l][f], p.Layers[l].Ffn[f].Score);
        }
        objective.SetMinimization();
        using var parameters = new MPSolverParameters();
        parameters.SetDoubleParam(MPSolverParameters.DoubleParam.RELATIVE_MIP_GAP, 0);
        var scores = new List<double>();
        for (var i = 0; i < k; i++)
        {
            var status = solver.Solve(parameters);
            if (status is not (Solver.ResultStatus.OPTIMAL or Solver.ResultStatus.FEASIBLE)) break;
            scores.Add(objective.Value());
            var chosen = x.Concat(y).Select(options => options.First(v => v.SolutionValue() > 0.5)).ToList();
            var shared = solver.MakeConstraint(double.NegativeInfinity, Math.Floor(0.8 * 2 * p.Layers.Count));
            foreach (var v in chosen) shared.SetCoefficient(v, 1);
        }
        return [.. scores];
    }
}
