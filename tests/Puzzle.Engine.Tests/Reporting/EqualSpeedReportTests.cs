using System.Text.RegularExpressions;
using System.Xml.Linq;
using Puzzle.Engine.Export;
using Puzzle.Engine.Reporting;

namespace Puzzle.Engine.Tests.Reporting;

/// <summary>The verdict at equal measured speed as report.html, the console table and the model card state it, and the
/// chart of quality against measured speed (one line per method, healed points filled, assembled-only hollow).</summary>
public sealed class EqualSpeedReportTests
{
    static SpeedPoint Point(string model, bool healed, double measured, double kl) =>
        new(model, healed, kl, 0.9 - kl, 0.99 - kl, new PointSpeedup(measured, measured));

    static PipelineReport Report()
    {
        MethodCurve[] curves =
        [
            new("puzzle", [Point("puzzle.x1.25", false, 1.3, 0.01), Point("child1", true, 1.5, 0.02), Point("puzzle.x2", false, 2.1, 0.06)]),
            new("uniform", [Point("uniform.x1.25", false, 1.2, 0.02), Point("uniform", true, 1.8, 0.05)]),
            new("shortgpt", [Point("shortgpt", true, 2.4, 0.2)]),
        ];
        var child = curves[0].Points[1];
        var goals = new ReportGoals(0.95, 1.5, false)
        {
            Child = "child1", Retention = 0.97, MeasuredSpeedup = 1.5, RetentionMet = true, SpeedupMet = true,
            BeatsBaselines = curves[1..].ToDictionary(c => c.Method, c => EqualSpeed.Compare(child, c)),
        };
        ReportEntry Row(string name, string kind, double kl) => new(name, kind)
        {
            Top1 = 0.3, Retention = 0.97, Loss = 4, Kl = kl, Agreement = 0.9 - kl, Speedup = new ReportSpeedup(1.5, 1.4, 1.6, 1.5),
        };
        return new PipelineReport("t", new string('e', 64), new ReportScenario("cpu", 8, 128, 64, null, null), [],
            [Row("parent", "parent", 0), Row("child1", "child", 0.02), Row("uniform", "baseline", 0.05), Row("shortgpt", "baseline", 0.2)])
        {
            Goals = goals, Curves = curves,
        };
    }

    [Fact]
    public void The_page_states_each_verdict_at_the_childs_measured_speed_and_charts_every_methods_curve()
    {
        var html = ReportHtml.Render(Report(), null, [], [], new HashSet<string>());

        // uniform read at 1.5x halfway between 1.2x (0.02) and 1.8x (0.05): 0.035, above the child's 0.02
        Assert.Contains("Against uniform at equal measured speed (1.50x): lower KL <span class=\"ok\">yes</span> (0.0200 vs 0.0350)", html);
        Assert.Contains("an assembled-only model of theirs enters", html);
        // shortgpt was measured only at 2.4x: 60% away, no verdict
        Assert.Contains("Against shortgpt at equal measured speed: <span class=\"no\">not compared</span> <small>(1.50x is outside shortgpt", html);

        var section = html[html.IndexOf("<h2>Quality against measured speed</h2>", StringComparison.Ordinal)..];
        var charts = Regex.Matches(section, "<svg .*?</svg>", RegexOptions.Singleline).Take(2).Select(m => XDocument.Parse(m.Value)).ToList();
        Assert.Equal(2, charts.Count); // KL and retention
        XNamespace ns = "http://www.w3.org/2000/svg";
        foreach (var chart in charts)
        {
            Assert.Equal(3, chart.Descendants(ns + "polyline").Count()); // one line per method
            var dots = chart.Descendants(ns + "circle").ToList();
            Assert.Equal(6, dots.Count);
            Assert.Equal(3, dots.Count(d => (string?)d.Attribute("fill") == "white")); // the assembled-only points are hollow
        }
    }

    [Fact]
    public void The_console_table_and_the_model_card_state_the_verdicts_at_equal_measured_speed()
    {
        var report = Report();
        var text = ReportTable.Render(report);
        Assert.Contains("lower KL and higher agreement than every baseline at equal measured speed: no", text);
        Assert.Contains("against uniform at 1.50x: KL 0.0200 vs 0.0350 (yes)", text);
        Assert.Contains("against shortgpt: 1.50x is outside shortgpt's measured range 2.40x-2.40x", text);

        var card = ModelCard.Render(Checkpoints.CheckpointTestSupport.Heterogeneous(), Engine.Checkpoints.CheckpointFormat.NemotronNas, Engine.Checkpoints.TensorDType.F32,
            Engine.Export.ExportRuntime.Any, new ModelCardContext { Pipeline = "t", Model = "child1", Report = report.Models, Goals = report.Goals });
        Assert.Contains("At equal measured speed (child1's 1.50×", card);
        Assert.Contains("- uniform: KL 0.0350", card);
        Assert.Contains("child1 beats it", card);
        Assert.Contains("- shortgpt: not compared", card);
    }

    [Fact]
    public void The_model_card_carries_the_reports_timing_warnings_beside_the_speedups_they_qualify()
    {
        var report = Report();
        const string warning = "the parent timed 5.3 ms per scenario request in Measure and 5.8 ms in Speed: 16% apart";
        string Card(IReadOnlyList<string> warnings) => ModelCard.Render(Checkpoints.CheckpointTestSupport.Heterogeneous(), Engine.Checkpoints.CheckpointFormat.NemotronNas,
            Engine.Checkpoints.TensorDType.F32, Engine.Export.ExportRuntime.Any,
            new ModelCardContext { Pipeline = "t", Model = "child1", Report = report.Models, Goals = report.Goals, TimingWarnings = warnings });

        var card = Card([warning]);
        var results = card[card.IndexOf("## Results", StringComparison.Ordinal)..card.IndexOf("## Architecture", StringComparison.Ordinal)];
        Assert.Contains($"Timings that disagree (the report's warnings):\n\n- {warning}\n", results.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("Timings that disagree", Card([]));
    }

    [Fact]
    public void Absolute_time_constraints_are_goals_held_to_the_childs_measured_speed()
    {
        // batch 2 × 8 generated tokens at 3,000 tokens/s: 5.33 ms per request
        var full = Report();
        // no baseline to beat: only the child's own goals count
        var models = full.Models.Where(m => m.Kind != "baseline").Select(m => m with { ScenarioTokensPerS = m.Name == "child1" ? 3000 : 2000 }).ToList();
        var scenario = new Engine.Pipeline.Spec.ScenarioSpec { Batch = 2, Prompt = 32, Generate = 8 };
        var curves = full.Curves.Take(1).ToList();
        ReportGoals Goals(Engine.Pipeline.Spec.ConstraintsSpec c, Engine.Pipeline.Spec.ScenarioSpec s) => Engine.Pipeline.Stages.ReportStage.Goals(c, s, models, curves);

        var slow = Goals(new() { LatencyMs = 5 }, scenario);
        Assert.False(slow.Met);
        Assert.Equal("measured 5.3 ms per scenario request, over latency_ms 5", slow.Why);
        var few = Goals(new() { ThroughputTokensPerS = 3500, LatencyMs = 6 }, scenario);
        Assert.False(few.Met);
        Assert.Equal("measured 3000 tokens/s, short of throughput_tokens_per_s 3500", few.Why);
        Assert.True(Goals(new() { ThroughputTokensPerS = 2500, LatencyMs = 6 }, scenario).Met);
        // costs of other hardware (a roofline): times measured here say nothing of it
        Assert.True(Goals(new() { LatencyMs = 5 }, scenario with { Target = "h100-sxm" }).Met);

        var text = ReportTable.Render(full with { Models = models, Goals = slow });
        Assert.Contains("measured speedup 1.50x (no throughput_vs_parent target)", text);
        Assert.Contains("  measured 5.3 ms per scenario request, over latency_ms 5", text);
    }

    [Fact]
    public void A_baseline_with_no_measured_model_is_not_compared_rather_than_left_out_of_every_baseline()
    {
        // uniform chose nothing at the spec's target nor at any Sweep target: it has no curve, and the goals said
        // "lower KL and higher agreement than every baseline: yes" without naming it
        var full = Report();
        var models = full.Models.Select(m => m.Name == "uniform" ? new ReportEntry("uniform", "baseline") { Skipped = "no variant used in every layer meets the constraints" } : m).ToList();
        var curves = full.Curves.Where(c => c.Method != "uniform").Select(c => c.Method == "shortgpt" ? c with { Points = [Point("shortgpt", true, 1.5, 0.2)] } : c).ToList();

        var goals = Engine.Pipeline.Stages.ReportStage.Goals(new() { ThroughputVsParent = 1.5 }, new Engine.Pipeline.Spec.ScenarioSpec(), models, curves);

        Assert.Equal(["uniform", "shortgpt"], goals.BeatsBaselines.Keys); // in the report's order of models
        Assert.True(goals.BeatsBaselines["shortgpt"].Beats);
        var uniform = goals.BeatsBaselines["uniform"];
        Assert.Null(uniform.Beats);
        Assert.Equal("uniform has no measured model (no variant used in every layer meets the constraints): not compared", uniform.Rule);
        Assert.False(goals.Met);
        Assert.Equal("not compared at equal measured speed with uniform (no variant used in every layer meets the constraints): no model of theirs was measured", goals.Why);
        var text = ReportTable.Render(full with { Models = models, Curves = curves, Goals = goals });
        Assert.Contains("lower KL and higher agreement than every baseline at equal measured speed: no", text);
        Assert.Contains("  against uniform: uniform has no measured model", text);

        // a verdict left undefined by a KL that is not finite is not put down to the child's speed
        var diverged = curves.Select(c => c.Method == "shortgpt" ? c with { Points = [c.Points[0] with { Kl = double.NaN }] } : c).ToList();
        var why = Engine.Pipeline.Stages.ReportStage.Goals(new() { ThroughputVsParent = 1.5 }, new Engine.Pipeline.Spec.ScenarioSpec(), models, diverged).Why;
        Assert.Contains("not compared at equal measured speed with shortgpt: their KL or agreement at the child's speed is not finite", why);
        Assert.DoesNotContain("near the child's speed", why);
    }

    [Fact]
    public void A_goal_missed_by_less_than_the_rounding_is_not_written_as_met()
    {
        // 1.495x against 1.5x and 94.96% against 95% round onto their goals at two and one decimals; a KL of 0.02004
        // against a baseline's 0.02 rounds to the same 0.0200
        var full = Report();
        var child = full.Curves[0].Points[1] with { Kl = 0.02004 };
        var uniform = new MethodCurve("uniform", [Point("uniform", true, 1.495, 0.02)]);
        var report = full with
        {
            Models = [.. full.Models.Select(m => m.Name == "child1" ? m with { Kl = 0.02004 } : m)],
            Goals = full.Goals! with
            {
                Retention = 0.9496,
                RetentionMet = false,
                MeasuredSpeedup = 1.495,
                SpeedupMet = false,
                BeatsBaselines = new Dictionary<string, BaselineComparison> { ["uniform"] = EqualSpeed.Compare(child with { Speedup = new PointSpeedup(1.5, 1.495) }, uniform) },
            },
        };

        var text = ReportTable.Render(report);
        Assert.Contains("retention 94.96 % (≥ 95.0 %: no), measured speedup 1.495x (target 1.5x: no)", text);
        Assert.Contains("KL 0.02004 vs 0.02000 (no)", text);
        var html = ReportHtml.Render(report, null, [], [], new HashSet<string>());
        Assert.Contains("<li>Top-1 retention 94.96 % (goal ≥ 95.0 %): <span class=\"no\">no</span></li>", html);
        Assert.Contains("<li>Measured speedup 1.495x (target 1.5x): <span class=\"no\">no</span></li>", html);
        Assert.Contains("lower KL <span class=\"no\">no</span> (0.02004 vs 0.02000)", html);
        // a goal met, or missed by more than the rounding, keeps the usual decimals
        Assert.Contains("measured speedup 1.50x (target 1.5x: yes)", ReportTable.Render(full));
    }

    [Fact]
    public void A_parent_with_no_top1_leaves_retention_undefined_and_the_report_still_renders()
    {
        // a parent with random weights (the GPU scale check's) gets no held-out token right: retention is 0/0
        Assert.Null(Engine.Pipeline.Stages.ReportStage.RetentionOf(0.001, 0));
        Assert.Equal(0.5, Engine.Pipeline.Stages.ReportStage.RetentionOf(0.1, 0.2));
        static SpeedPoint NoRetention(SpeedPoint p) => p with { Retention = null };
        var full = Report();
        var curves = full.Curves.Select(c => c with { Points = [.. c.Points.Select(NoRetention)] }).ToList();
        var child = curves[0].Points[1];
        var report = full with
        {
            Curves = curves,
            Models = [.. full.Models.Select(m => m with { Retention = null })],
            Goals = full.Goals! with
            {
                Retention = null,
                RetentionMet = false,
                Why = "the parent's top-1 on held-out text is 0, so retention is undefined",
                BeatsBaselines = curves.Skip(1).ToDictionary(c => c.Method, c => EqualSpeed.Compare(child, c)),
            },
        };
        var uniform = report.Goals!.BeatsBaselines["uniform"];
        Assert.Equal((null, null, true), (uniform.Retention, uniform.RetentionHigher, uniform.KlLower));

        var html = ReportHtml.Render(report, null, [], [], new HashSet<string>());
        Assert.Contains("<li>Top-1 retention - (goal ≥ 95.0 %)", html);
        Assert.Contains("<li>the parent&#39;s top-1 on held-out text is 0, so retention is undefined</li>", html);
        var section = html[html.IndexOf("<h2>Quality against measured speed</h2>", StringComparison.Ordinal)..];
        Assert.Single(Regex.Matches(section[..section.IndexOf("</div>", StringComparison.Ordinal)], "<svg ")); // KL only
        var text = ReportTable.Render(report);
        Assert.Contains("goals for child1: retention - (≥ 95.0 %: no)", text);
        Assert.Contains("  the parent's top-1 on held-out text is 0, so retention is undefined", text);
        Assert.Contains("retention - vs - (no)", text); // the child's own, then the baseline's
        using var dir = new TempDir();
        Engine.RecordFile.Write(dir["report.json"], report);
        var back = Engine.RecordFile.Read<PipelineReport>(dir["report.json"]);
        Assert.All(back.Models, m => Assert.Null(m.Retention));
        Assert.All(back.Curves.SelectMany(c => c.Points), p => Assert.Null(p.Retention));
    }
}
