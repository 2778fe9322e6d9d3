using System.Text.Json.Nodes;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Search;
using Puzzle.Engine.Tests.Pipeline;
using static Puzzle.Engine.Pipeline.Stages.SearchStage;

namespace Puzzle.Engine.Tests.Search;

/// <summary>search.batch_sizes: one search whose constraints hold at scenario.batch and at every listed batch size.</summary>
public class BatchSizesTests
{
    const string Yaml = TestRepo.MicroSpec + "\nscenario: { batch: 8, prompt: 16, generate: 4 }\nsearch: { batch_sizes: [1] }\n";

    /// <summary>Costs where a narrower FFN saves time at batch 8 but none at batch 1 (its weights stream from memory
    /// either way), while a cheaper attention saves time at both. Throughput ≥ 1.5× the parent's.</summary>
    static MeasuredCost Cost(PipelineSpec spec, string job)
    {
        var config = ParentStage.PlannedConfig(spec);
        var parent = config.Blocks[0];
        var batch = int.Parse(job[1..job.IndexOf('.')]);
        var seconds = job.EndsWith(".head") ? 0.1
            : job.EndsWith(".parent") ? 0.1 + 2.0 * config.NumLayers // the whole parent: its head and its blocks
            : job == MeasureStage.AttentionJob(batch, parent.Attention) || job == MeasureStage.FfnJob(batch, parent.Ffn) ? 1.0
            : job.Contains(".attention.") ? 0.2
            : batch == 8 ? 0.1 : 1.0;
        return new MeasuredCost(seconds, 0, 1000, 4000, 0);
    }

    /// <summary>Narrow FFNs lose little, other attention a lot.</summary>
    static List<ScoreStage.LayerScores> Scores(PipelineSpec spec)
    {
        var parent = ParentStage.PlannedConfig(spec);
        return [.. Enumerable.Range(0, parent.NumLayers).Select(l =>
        {
            var variants = new Dictionary<string, ScoreStage.VariantScore>();
            foreach (var v in Engine.Library.VariantCatalog.For(parent, spec.SearchSpace.Alternatives).Where(v => v.Layer == l && !v.IsParent))
            {
                var kl = v.Id.EndsWith("attention.kv1") ? 1.0 : v.Id.Contains(".attention.") ? 3.0 : v.Id.EndsWith("no_op") ? 0.5 : 0.01;
                variants[v.Id] = new ScoreStage.VariantScore(kl, kl, 0, 1 - kl / 10);
            }
            return new ScoreStage.LayerScores(l, 0, "subblocks", new ScoreStage.ParentQuality(0, 0), 0, variants);
        })];
    }

    static (PipelineSpec Spec, SearchProblem Problem, IReadOnlyDictionary<int, ArchitectureProblem.Totals> ParentAt) Build(TestRepo repo)
    {
        var spec = repo.Load();
        var (problem, _, parentAt) = ArchitectureProblem.Build(ArchitectureProblem.Settings.Of(spec), ParentStage.PlannedConfig(spec), Scores(spec), id => Cost(spec, id));
        return (spec, problem, parentAt);
    }

    [Fact]
    public void A_child_that_meets_the_constraint_at_one_batch_size_but_not_another_is_rejected()
    {
        using var repo = new TestRepo(Yaml);
        var (_, problem, parentAt) = Build(repo);
        Assert.Equal([8, 1], parentAt.Keys);
        Assert.Equal(["throughput ≥ 1.5× parent at batch 8", "throughput ≥ 1.5× parent at batch 1"], problem.Limits.Select(l => l.Label));

        // what a search at batch 8 alone picks: narrow FFNs, which do nothing for batch 1
        var batch8 = PuzzleSearch.Solve(problem with { Limits = [problem.Limits[0]] }, SearchMethod.Mip)[0];
        Assert.All(batch8.Layers, l => Assert.EndsWith(".attention.kv2", l.Attention));
        Assert.True(batch8.Cost("b1.time_s") > parentAt[1].TimeSeconds / 1.5, "the batch-8 child should miss the target at batch 1");
        Assert.False(batch8.Meets(problem));

        var found = PuzzleSearch.Solve(problem, SearchMethod.Mip, solutions: 2);
        Assert.All(found, a => Assert.True(a.Meets(problem)));
        Assert.All(found[0].Layers, l => Assert.EndsWith(".attention.kv1", l.Attention));
        Assert.All(found, a => Assert.True(a.Cost("b1.time_s") <= parentAt[1].TimeSeconds / 1.5 + 1e-12));
        Assert.All(found, a => Assert.True(a.Cost("time_s") <= parentAt[8].TimeSeconds / 1.5 + 1e-12));
        Assert.True(found[0].Score > batch8.Score);
    }

    [Fact]
    public void One_search_job_reads_every_batch_size_s_costs_and_heal_trains_its_children()
    {
        using var repo = new TestRepo(Yaml);
        var session = PipelineSession.Open(repo.SpecPath);

        var search = Assert.Single(session.Graph.Jobs["Search"]);
        Assert.Equal("b8", search.Id);
        Assert.Equal(["b1", "b8"], session.Graph.Jobs["Measure"].Select(j => j.Id).Order()); // one Measure job per batch size
        Assert.Contains("cost:b1", search.Inputs.Keys);
        Assert.Contains("cost:b8", search.Inputs.Keys);
        Assert.Equal(session.Graph.Jobs["Measure"].Count, search.Inputs.Keys.Count(k => k.StartsWith("cost:")));
        Assert.All(session.Graph.Jobs["Heal"], h => Assert.Same(search, h.Inputs["search"]));
    }

    [Fact]
    public void The_closed_loop_times_scenario_batch_and_keeps_the_other_batch_sizes_limits()
    {
        using var repo = new TestRepo(Yaml);
        var (spec, problem, parentAt) = Build(repo);
        var parent8 = parentAt[8].TimeSeconds;

        // the child runs 20% slower than predicted at batch 8; the parent as predicted
        var result = ClosedLoop.Run(problem, p => PuzzleSearch.Solve(p, SearchMethod.Mip), a => (a.Cost("time_s") * 1.2, parent8),
            p => SearchLoop.MeasuredLimits(ArchitectureProblem.Settings.Of(spec), parentAt, p), ArchitectureProblem.Time, maxRounds: 3);

        Assert.Equal(2, result.Rounds.Count);
        Assert.False(result.Rounds[0].Met);
        Assert.True(result.Met);
        Assert.Equal(parent8 / 1.5 / 1.2, result.Problem.Limits[0].Max, 9); // scenario.batch's limit, tightened by the error
        Assert.Equal(problem.Limits[1], result.Problem.Limits[1]); // batch 1's, as the cost model has it
        Assert.True(result.Found[0].Meets(problem));
        Assert.True(result.Found[0].Cost("time_s") * 1.2 <= parent8 / 1.5 + 1e-9);
    }

    [Fact]
    public void Explain_says_when_the_time_limit_left_a_child_not_proven_optimal()
    {
        using var repo = new TestRepo(Yaml);
        var (spec, problem, _) = Build(repo);
        var proven = PuzzleSearch.Solve(problem, SearchMethod.Mip)[0];
        Assert.True(proven.Optimal);
        Assert.Equal("", SearchStage.Unproven(proven, spec.Search));

        // what a solve cut short by search.time_limit_s returns: the best found so far, not proven the most accurate
        var cut = proven with { Optimal = false };
        Assert.Contains($"NOT proven optimal: search.time_limit_s ({spec.Search.TimeLimitS:0.###} s) ran out before the solver proved it, so a more accurate child may meet the constraints",
            SearchStage.Unproven(cut, spec.Search));
        Assert.Equal("", SearchStage.Unproven(cut, spec.Search with { Method = SearchMethod.Greedy })); // greedy proves nothing, by name
    }

    [Fact]
    public void Explain_says_its_time_column_is_summed_blocks_not_the_childs_time()
    {
        // the ci pipeline's Measure job on a loaded machine: blocks summing to 18 times the parent's whole time
        var parent = new ArchitectureProblem.Totals(0.1348, 1000, 1000) { MeasuredTimeSeconds = 0.00745, Curve = new Engine.Cost.SizeCurve(-1.0 / 3) };
        Assert.Equal("# time_s in the tables: the blocks' scenario times as the Measure job costed them, summed (the parent's: 134.8 ms; it ran whole in 7.45 ms); " +
                     "a time constraint is a limit on that sum through the size curve (K = -0.333), and its target column gives the predicted whole time or speedup\n",
            SearchStage.SummedTimeNote(parent));
    }
}

/// <summary>Absolute limits the parent meets already: the search would return the parent as its own child, so the
/// Search job refuses them, naming the parent's value of each.</summary>
public class ParentMeetsTests
{
    static MeasuredCost Cost(string job) => job.EndsWith(".head") ? new(0.001, 0.0001, 1000, 4000, 0)
        : job.EndsWith(".parent") ? new(0.005, 0.0005, 0, 0, 0)
        : job.Contains(".attention.gqa2") ? new(0.001, 0.0001, 100, 400, 64)
        : job.Contains(".ffn.swiglu64") ? new(0.001, 0.0001, 100, 400, 0)
        : new(0.0005, 0.00005, 50, 200, 0);

    static List<ScoreStage.LayerScores> Scores(PipelineSpec spec)
    {
        var parent = ParentStage.PlannedConfig(spec);
        return [.. Enumerable.Range(0, parent.NumLayers).Select(l => new ScoreStage.LayerScores(l, 0, "subblocks", new ScoreStage.ParentQuality(0, 0), 0,
            Engine.Library.VariantCatalog.For(parent, spec.SearchSpace.Alternatives).Where(v => v.Layer == l && !v.IsParent)
                .ToDictionary(v => v.Id, _ => new ScoreStage.VariantScore(0.1, 0.1, 0, 0.9))))];
    }

    static string? MetByTheParent(string constraints)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("throughput_vs_parent: 1.5", "").Replace("constraints:", "constraints: " + constraints)
            + "\nscenario: { batch: 4, prompt: 16, generate: 8 }\n");
        var spec = repo.Load();
        var settings = ArchitectureProblem.Settings.Of(spec);
        var (problem, _, parentAt) = ArchitectureProblem.Build(settings, ParentStage.PlannedConfig(spec), Scores(spec), Cost);
        return ArchitectureProblem.MetByTheParent(problem, settings, parentAt);
    }

    [Fact]
    public void Limits_the_parent_meets_are_named_with_the_parent_s_values_and_a_limit_it_misses_is_not()
    {
        // the parent: 5 ms prefill and 0.5 ms per token over 8 tokens, 9 ms (its head and 4 subblocks of 1.8 ms sum to
        // the same); memory: 4,000 bytes of head, and per layer 400 + 400 bytes of weights and 4 × (16 + 8) × 64 of KV cache
        Assert.Equal("latency ≤ 1000 ms: the parent reaches 9 ms; memory ≤ 1,000,000 bytes: the parent reaches 17,888 bytes",
            MetByTheParent("{ latency_ms: 1000, memory_bytes: 1000000 }"));
        Assert.Null(MetByTheParent("{ latency_ms: 1000, memory_bytes: 17000 }"));
        Assert.Null(MetByTheParent("{ throughput_tokens_per_s: 4000 }")); // 4 × 8 tokens in 9 ms: 3,556 tokens/s
    }
}
