using System.Text.RegularExpressions;
using Puzzle.Engine.Export;
using Puzzle.Engine.Reporting;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>report.html reads right at 800 px and up, offline and script-free (screenshots: README, "The report").</summary>
public sealed class ReportHtmlTests
{
    static ReportEntry Row(string name, string kind, double scenario) => new(name, kind)
    {
        Top1 = 0.1, Retention = 0.97, Loss = 4.3, Kl = 0.0148, Agreement = 0.89, Parameters = 114944, PrefillTokensPerS = 57368, DecodeTokensPerS = 2023,
        Speedup = new ReportSpeedup(1.3, 1.2, 1.9, scenario),
    };

    static string Render(params string[] warnings) => Render(warnings, []);

    static string Render(IReadOnlyList<string> warnings, IReadOnlyList<string> timing)
    {
        var report = new PipelineReport("ci", new string('e', 64), new ReportScenario("cpu", 2, 32, 8, "AMD EPYC, 2 threads", null),
            [new ReportConstraint("throughput ≥ 1.3× parent", "time_s", 1)], [Row("parent", "parent", 1.0), Row("child1", "child", 1.55)])
        {
            TrainingWarnings = warnings, TimingWarnings = timing,
        };
        IReadOnlyList<(double, double)> Curve(double from, double to) => [(0, from), (2048, (from + to) / 2), (4096, to)];
        return ReportHtml.Render(report, null,
            [("child1", Curve(0.04, 0.03)), ("uniform", Curve(1.02, 0.52))],
            [("layer0.ffn.linear", Curve(0.3, 0.2)), ("layer0.attention.linear", Curve(1.8e-5, 1.1e-5)), ("layer1.ffn.linear", Curve(0.3, 0.25))],
            new HashSet<string>());
    }

    [Fact]
    public void Training_that_made_a_model_worse_is_listed_and_nothing_is_listed_otherwise()
    {
        var warned = Render("uniform: GKD raised held-out KL from 0.1410 to 0.4220; the assembled weights are published");
        Assert.Contains("<h2>Training that did not help</h2>", warned);
        Assert.Contains("<li>uniform: GKD raised held-out KL from 0.1410 to 0.4220; the assembled weights are published</li>", warned);
        Assert.DoesNotContain("Training that did not help", Render());
    }

    /// <summary>A model's GKD line gives its held-out KL before and after to four significant digits: a child near its
    /// parent (1e-5) read "0.0000 before, 0.0000 after".</summary>
    [Fact]
    public void A_models_gkd_line_writes_a_small_held_out_kl_in_significant_digits()
    {
        var child = Row("child1", "child", 1.55) with
        {
            Layers = [new Engine.Search.LayerChoice(0, "layer0.attention.kv1", "layer0.ffn.ratio0.5")],
            Gkd = new ReportGkd(40960, 4096, 1.7511e-5, 1.2044e-5),
        };
        var report = new PipelineReport("ci", new string('e', 64), new ReportScenario("cpu", 2, 32, 8, "AMD EPYC, 2 threads", null),
            [new ReportConstraint("throughput ≥ 1.3× parent", "time_s", 1)], [Row("parent", "parent", 1.0), child]);
        var html = ReportHtml.Render(report, null, [], [], new HashSet<string>());
        Assert.Contains("KL on held-out check 1.751E-05 before, 1.204E-05 after.", html);
    }

    /// <summary>A child close to its parent has a held-out KL of 1e-5 to 1e-3: its warning says how far GKD raised it,
    /// not "from 0.0000 to 0.0000", which reads as no change.</summary>
    [Fact]
    public void Training_warnings_write_small_held_out_losses_in_significant_digits()
    {
        var check = new Engine.Pipeline.Stages.HealStage.HeldoutCheck(1.7511e-5, 0.996, 3.72, 0.164);
        var heal = new Engine.Pipeline.Stages.HealStage.HealReport("child1", "child")
        {
            Gkd = new(40960, 10, 4096, 180, 16, check, check, BestStep: 0, LastKl: 2.7444e-5, []),
        };
        Assert.Equal("child1: GKD raised held-out KL from 1.751E-05 to 2.744E-05; the assembled weights are published",
            Engine.Pipeline.Stages.ReportStage.GkdWarning(heal));
        Assert.Null(Engine.Pipeline.Stages.ReportStage.GkdWarning(heal with { Gkd = heal.Gkd with { BestStep = 40 } }));

        var metrics = System.Text.Json.Nodes.JsonNode.Parse("""{"best_step": 0, "init_nmse": 0.07561, "last_nmse": 0.08342}""")!.AsObject();
        Assert.Equal("layer0.attention.linear: BLD raised held-out nMSE from 0.07561 to 0.08342; the initialisation is published",
            Engine.Pipeline.Stages.ReportStage.BldWarning("layer0.attention.linear", metrics));
    }

    [Fact]
    public void Parent_timings_more_than_ten_percent_apart_are_a_warning_with_every_timing_and_closer_ones_are_not()
    {
        // as in one main job: Measure 190.5 ms, the closed loop 176.4 and 195.3 ms, Speed 163.4 ms
        var warning = Assert.Single(Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.1905, [0.1764, 0.1953], 0.1634));
        Assert.StartsWith("the parent timed 190.5 ms per scenario request in Measure, 176.4 ms and 195.3 ms in the closed loop and 163.4 ms in Speed: 20% apart", warning);
        Assert.Empty(Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.1926, [0.1971, 0.2016], 0.1930)); // 4.7% apart
        Assert.Single(Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.100, [], 0.111)); // no closed loop: 11% apart
        Assert.DoesNotContain("closed loop", Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.100, [], 0.111).Single());
        Assert.EndsWith("on a quieter machine, `puzzle run SPEC --rerun Measure` (or `dotnet cake --rerun=Measure`) times the costs again and rebuilds what follows from them", warning);

        var html = Render([], [warning]);
        Assert.Contains("<h2>Timings that disagree</h2>", html);
        Assert.Contains("<li>the parent timed 190.5 ms", html);
        Assert.DoesNotContain("Timings that disagree", Render());
    }

    [Fact]
    public void A_warnings_numbers_show_the_rise_or_the_spread_they_warn_of()
    {
        // the ci pipeline's uniform baseline: held-out KL 0.011666 before GKD, 0.011747 after, both 0.0117 at four decimals
        Assert.Equal("from 0.01167 to 0.01175", Engine.Pipeline.Stages.ReportStage.Raised(0.011666444490999323, 0.011746668868542476));
        Assert.Equal("from 0.141 to 0.422", Engine.Pipeline.Stages.ReportStage.Raised(0.141, 0.422));
        Assert.Equal("from 0.1234567 to 0.1234568", Engine.Pipeline.Stages.ReportStage.Raised(0.1234567, 0.1234568));
        // 10.4% apart is over the ±10% it warns of, not "10% apart"
        Assert.Contains("in Speed: 10.4% apart, more than the ±10%", Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.100, [], 0.1104).Single());
        Assert.Contains("in Speed: 11% apart", Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.100, [], 0.111).Single());
    }

    [Fact]
    public void Costs_timed_on_another_machine_than_the_speeds_are_a_warning()
    {
        var other = Assert.Single(Engine.Pipeline.Stages.ReportStage.MachineWarnings("AMD EPYC 7B13, 2 threads", "Intel Xeon 8481C, 2 threads"));
        Assert.StartsWith("the costs were timed on AMD EPYC 7B13, 2 threads and the speeds on Intel Xeon 8481C, 2 threads", other);
        Assert.Contains("`puzzle run SPEC --rerun Measure`", other);
        Assert.Empty(Engine.Pipeline.Stages.ReportStage.MachineWarnings("NVIDIA H200, CUDA graphs, bfloat16", "NVIDIA H200, CUDA graphs, bfloat16"));
        Assert.Empty(Engine.Pipeline.Stages.ReportStage.MachineWarnings(null, "Intel Xeon 8481C, 2 threads")); // an entry from before it was recorded
    }

    [Fact]
    public void Where_only_Measures_timing_is_apart_the_warning_says_so_and_how_to_time_the_costs_again()
    {
        // as in a moby-2x run whose Measure entry came from a slow hour earlier that day: Measure 531.9 ms, later 348-375 ms
        var stale = Assert.Single(Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.5319, [0.3479, 0.3616], 0.3750));
        Assert.Contains("the later timings agree within ±10%, Measure's is 53% apart from the farthest of them (42% from the nearest)", stale);
        // as in a 1B run: Measure 1974.2 ms, the closed loop 2272.8 ms, Speed 2124.9 ms; 8% from Speed's alone was said to be
        // more than the ±10% predictions are held to
        Assert.Contains("Measure's is 15% apart from the farthest of them (8% from the nearest), more than the ±10%",
            Assert.Single(Engine.Pipeline.Stages.ReportStage.TimingWarnings(1.9742, [2.2728], 2.1249)));
        Assert.Contains("timed on a machine busier than now or another one): `puzzle run SPEC --rerun Measure`", stale);
        var quieter = Assert.Single(Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.150, [0.200], 0.195));
        Assert.Contains("Measure's is 33% apart from the farthest of them (30% from the nearest)", quieter);
        Assert.Contains("quieter than now", quieter);
        // one later timing cannot tell which of two is off
        Assert.Contains("the machine's speed moved", Engine.Pipeline.Stages.ReportStage.TimingWarnings(0.150, [], 0.200).Single());
    }

    [Fact]
    public void The_table_never_wraps_scrolls_in_its_own_box_and_groups_the_measured_speedups()
    {
        var html = Render();

        Assert.Matches(@"th,td\{[^}]*white-space:nowrap", html);
        Assert.Matches(@"\.scroll\{overflow-x:auto", html);
        Assert.Contains("<div class=\"scroll\"><table><tr>", html);
        Assert.Contains("<th class=\"group\" colspan=\"3\">measured speedup vs parent</th></tr><tr><th>prefill</th><th>decode</th><th>whole request</th></tr>", html);
        Assert.Contains("<td>1.30x</td><td>1.20x</td><td>1.90x</td><td>1.55x</td>", html);
        Assert.Contains("Speeds measured on cpu: AMD EPYC, 2 threads.", html);
        Assert.Contains($"pipeline key {new string('e', 64)}", html);
        // offline and script-free: no script, no external resource (the only URL is the SVG namespace)
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(" on", Regex.Replace(html, "\"[^\"]*\"|>[^<]*<", ""), StringComparison.Ordinal);
        Assert.All(Regex.Matches(html, "https?://[^\" ]+").Select(m => m.Value), url => Assert.Equal("http://www.w3.org/2000/svg", url));
    }

    [Fact]
    public void Gkd_curves_use_a_log_axis_with_round_ticks_and_bld_has_one_panel_per_layer()
    {
        var html = Render();
        var gkd = html[html.IndexOf("<h2>GKD loss</h2>", StringComparison.Ordinal)..html.IndexOf("<h2>BLD loss</h2>", StringComparison.Ordinal)];

        Assert.Contains("GKD loss (log scale)", gkd);
        var ticks = Regex.Matches(gkd, "text-anchor=\"end\">([^<]+)<").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"], ticks);

        var bld = html[html.IndexOf("<h2>BLD loss</h2>", StringComparison.Ordinal)..];
        Assert.Equal(2, Regex.Matches(bld, "<svg ").Count);
        Assert.Contains(">layer0: tokens<", bld);
        Assert.Contains(">ffn.linear<", bld);
        Assert.DoesNotContain("E-0", bld); // ticks at powers of ten over these five decades: 1e-5, not 1.82E-05
        Assert.Contains(">1e-5<", bld);
    }

    [Fact]
    public void Ticks_are_round_numbers()
    {
        Assert.Equal([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2], Ticks.Linear(0.024, 1.02).Ticks);
        Assert.Equal([1e-3, 1e-2, 0.1, 1, 10], Ticks.Log(0.0015, 7).Ticks);
        Assert.Equal([0.02, 0.05, 0.1, 0.2, 0.5, 1, 2], Ticks.Log(0.03, 1.02).Ticks);
        Assert.Equal("20k", Ticks.Label(20000));
        Assert.Equal("2e-5", Ticks.Label(2e-5));
        Assert.Equal("0.05", Ticks.Label(0.05));
    }
}
