using System.Globalization;
using System.Net;
using System.Text;
using Puzzle.Engine.Export;
using Puzzle.Engine.Search;
using static Puzzle.Engine.Reporting.ReportFormat;

namespace Puzzle.Engine.Reporting;

/// <summary>
/// report.html: one self-contained page (inline CSS and SVG, no scripts or links), readable offline: the results
/// table, the goals, a per-layer map of each model's attention and FFN choices, the Pareto front, quality against
/// measured speed per method, and the GKD and BLD loss curves.
/// </summary>
public static class ReportHtml
{
    public static string Render(PipelineReport report, string? paretoSvg,
        IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> gkdCurves,
        IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> bldCurves, IReadOnlySet<string> parentIds)
    {
        var models = report.Models;
        var s = report.Scenario;
        var html = new StringBuilder();
        html.AppendLine("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.AppendLine($"<title>Puzzle report: {H(report.Pipeline)}</title>");
        html.AppendLine("""
            <style>
            body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}
            p{max-width:1100px}
            .scroll{overflow-x:auto;max-width:100%}
            svg{max-width:100%;height:auto}
            table{border-collapse:collapse;margin:1em 0}
            th,td{border:1px solid #ccc;padding:4px 7px;text-align:right;white-space:nowrap}
            th.group{text-align:center;background:#f0f4fa}
            .panels{display:flex;flex-wrap:wrap;gap:8px}
            th:first-child,td:first-child,td.l{text-align:left}
            tr.parent td{background:#f4f4f4}
            .map td{text-align:center;font-size:12px;min-width:56px}
            .parentv{background:#2e7d32;color:white}.reduced{background:#a5d6a7}.linear{background:#ffcc80}.noop{background:#eeeeee;color:#999}
            .ok{color:#2e7d32;font-weight:bold}.no{color:#c62828;font-weight:bold}
            small{color:#666}
            </style></head><body>
            """);
        html.AppendLine($"<h1>Puzzle report: {H(report.Pipeline)}</h1>");
        html.AppendLine($"<p>Scenario: {H(s.Device)}, batch {s.Batch}, prompt {s.Prompt} tokens, generate {s.Generate} tokens. " +
                        $"Constraints: {string.Join("; ", report.Constraints.Select(c => H(c.Label)))}. " +
                        (s.MeasuredOn is { } on ? $"Speeds measured on {H(s.Device)}: {H(on)}. " : "") +
                        $"<small>pipeline key {H(report.Key)}</small></p>");

        html.AppendLine("<h2>Results</h2><p>Quality on held-out text the pipeline never trained on, against the parent; speed measured in the " +
                        "scenario in the same process as the parent's. Predicted speedup is the search's cost model (" + H(s.CostModel ?? "additive") + "); measured is the " +
                        "whole scenario's generated tokens per second (prefill included).</p>");
        // the measured speedups get a group header, so they are not read as more tokens/s columns
        html.AppendLine("<div class=\"scroll\"><table><tr>" +
                        string.Concat(new[] { "model", "kind", "top-1", "retention", "loss", "KL(parent ‖ model)", "agreement", "parameters", "prefill tok/s", "decode tok/s", "predicted speedup" }
                            .Select(h => $"<th rowspan=\"2\">{H(h)}</th>")) +
                        "<th class=\"group\" colspan=\"3\">measured speedup vs parent</th></tr>" +
                        "<tr><th>prefill</th><th>decode</th><th>whole request</th></tr>");
        foreach (var m in models)
        {
            if (m.Skipped is { } why)
            {
                html.AppendLine($"<tr><td>{H(m.Name)}</td><td class=\"l\">{H(m.Kind)}</td><td class=\"l\" colspan=\"12\">skipped: {H(why)}</td></tr>");
                continue;
            }
            var sp = m.Speedup;
            html.AppendLine($"<tr class=\"{H(m.Kind)}\"><td>{H(m.Name)}</td><td class=\"l\">{H(m.Kind)}</td><td>{P(m.Top1)}</td><td>{P(m.Retention)}</td>" +
                            $"<td>{F(m.Loss, "0.000")}</td><td>{F(m.Kl, "0.0000")}</td><td>{P(m.Agreement)}</td><td>{F(m.Parameters, "N0")}</td>" +
                            $"<td>{F(m.PrefillTokensPerS, "N0")}</td><td>{F(m.DecodeTokensPerS, "N0")}</td>" +
                            $"<td>{F(sp?.Predicted, "0.00")}x</td><td>{F(sp?.Prefill, "0.00")}x</td><td>{F(sp?.Decode, "0.00")}x</td><td>{F(sp?.Scenario, "0.00")}x</td></tr>");
        }
        html.AppendLine("</table></div>");
        html.Append(TaskRetention.Html(models));

        if (report.Goals is { Child: { } child } g)
        {
            html.AppendLine($"<h2>Goals for {H(child)}</h2><ul>");
            html.AppendLine($"<li>Top-1 retention {P(g.Retention, g.RetentionMin, "-")} (goal ≥ {P(g.RetentionMin)}): {Mark(g.RetentionMet)}</li>");
            html.AppendLine($"<li>Measured speedup {F(g.MeasuredSpeedup, 2, g.SpeedupTarget)}x " +
                            (g.SpeedupTarget is null ? "(no throughput_vs_parent target)</li>" : $"(target {F(g.SpeedupTarget, "0.##")}x): {Mark(g.SpeedupMet)}</li>"));
            foreach (var (name, b) in g.BeatsBaselines)
                html.AppendLine(b.Beats is null
                    ? $"<li>Against {H(name)} at equal measured speed: <span class=\"no\">not compared</span> <small>({H(b.Rule)})</small></li>"
                    : $"<li>Against {H(name)} at equal measured speed ({F(b.AtSpeedup, "0.00")}x): lower KL {Mark(b.KlLower)} ({F(Kl(report, child), 4, b.Kl)} vs " +
                      $"{F(b.Kl, 4, Kl(report, child))}), higher agreement {Mark(b.AgreementHigher)} (vs {P(b.Agreement, Agreement(report, child))}), retention {P(b.Retention, "-")} for {H(name)} " +
                      $"<small>({H(b.Rule)}{(b.HealedOnly ? "" : "; an assembled-only model of theirs enters, which flatters the child")})</small></li>");
            if (g.Why is { } why) html.AppendLine($"<li>{H(why)}</li>");
            html.AppendLine("</ul>");
        }

        Warnings("Training that did not help", report.TrainingWarnings);
        Warnings("Timings that disagree", report.TimingWarnings);
        void Warnings(string title, IReadOnlyList<string> warnings)
        {
            if (warnings.Count == 0) return;
            html.AppendLine($"<h2>{title}</h2><ul>");
            foreach (var w in warnings) html.AppendLine($"<li>{H(w)}</li>");
            html.AppendLine("</ul>");
        }

        html.AppendLine("<h2>Architectures</h2><p>Per layer, the attention and FFN each model uses. " +
                        "<span class=\"parentv\">&nbsp;parent&nbsp;</span> <span class=\"reduced\">&nbsp;fewer KV heads / narrower FFN&nbsp;</span> " +
                        "<span class=\"linear\">&nbsp;linear&nbsp;</span> <span class=\"noop\">&nbsp;no-op&nbsp;</span></p>");
        foreach (var m in models.Where(m => m.Layers is not null))
        {
            var layers = m.Layers!;
            html.AppendLine($"<h3>{H(m.Name)} <small>({H(m.Kind)}, predicted {F(m.Speedup?.Predicted, "0.00")}x, measured {F(m.Speedup?.Scenario, "0.00")}x)</small></h3>");
            html.AppendLine("<div class=\"scroll\"><table class=\"map\"><tr><th></th>" + string.Concat(layers.Select(l => $"<th>{l.Layer}</th>")) + "</tr>");
            html.AppendLine("<tr><th>attention</th>" + string.Concat(layers.Select(l => Cell(l.Attention, parentIds))) + "</tr>");
            if (layers.Any(l => l.Ffn.Length > 0))
                html.AppendLine("<tr><th>FFN</th>" + string.Concat(layers.Select(l => Cell(l.Ffn, parentIds))) + "</tr>");
            html.AppendLine("</table></div>");
            if (m.Gkd is { } gkd)
                html.AppendLine($"<p><small>GKD: {F(gkd.Tokens, "N0")} tokens at {F(gkd.TokensPerS, "N0")} tokens/s; KL on held-out check " +
                                $"{F(gkd.KlBefore, "G4")} before, {F(gkd.KlAfter, "G4")} after.</small></p>");
        }

        if (paretoSvg is not null)
            html.AppendLine("<h2>Pareto front</h2><p>The search's best summed score at each predicted speedup; the children and the " +
                            "baselines are marked where their own architectures lie.</p>" + SvgChart.Inline(paretoSvg));
        html.Append(SpeedCurves(report));
        if (gkdCurves.Count > 0)
            html.AppendLine("<h2>GKD loss</h2>" + SvgChart.Render(Lines(gkdCurves), "tokens", "GKD loss", logY: true));
        if (bldCurves.Count > 0)
        {
            // one panel per layer: a handful of lines each, every one in its own colour
            html.AppendLine("<h2>BLD loss</h2><p>Normalised MSE of every library variant against the parent subblock it replaces, one panel per layer.</p><div class=\"panels\">");
            foreach (var layer in bldCurves.GroupBy(c => c.Name.Split('.')[0]))
                html.AppendLine(SvgChart.Render(Lines([.. layer.Select(c => (c.Name[(c.Name.IndexOf('.') + 1)..], c.Points))]), $"{layer.Key}: tokens", "nMSE",
                    logY: true, width: 520));
            html.AppendLine("</div>");
        }
        html.AppendLine("</body></html>");
        return html.ToString();
    }

    /// <summary>A variant id as a coloured map cell.</summary>
    static string Cell(string id, IReadOnlySet<string> parentIds)
    {
        var name = Baselines.NameOf(id);
        var variant = name[(name.IndexOf('.') + 1)..];
        var css = parentIds.Contains(id) ? "parentv" : variant.Contains("no_op") ? "noop" : variant.Contains("linear") ? "linear" : "reduced";
        return $"<td class=\"{css}\" title=\"{H(id)}\">{H(variant)}</td>";
    }

    /// <summary>KL and retention against measured speedup, one line per method; healed points filled, assembled-only hollow.</summary>
    static string SpeedCurves(PipelineReport report)
    {
        if (report.Curves.Count == 0) return "";
        SvgChart.Series Line(MethodCurve c, Func<SpeedPoint, double?> y)
        {
            // a line from left to right, through the points that have the value (retention is undefined when the parent's top-1 is 0)
            var points = c.Points.Where(p => y(p) is not null).OrderBy(p => p.Speedup.Measured).ToList();
            return new(c.Method, [.. points.Select(p => (p.Speedup.Measured, y(p)!.Value))]) { Dots = true, Hollow = [.. points.Select(p => !p.Healed)] };
        }
        var retention = report.Curves.Any(c => c.Points.Any(p => p.Retention is not null))
            ? SvgChart.Render([.. report.Curves.Select(c => Line(c, p => p.Retention))], "measured speedup (× parent)", "top-1 retention", width: 560)
            : "";
        return "<h2>Quality against measured speed</h2><p>Each method's models by their measured whole-request speedup: filled dots were " +
               "healed by GKD at the spec's target, hollow ones assembled from the library at the further targets of " +
               "<code>evaluation.speed_targets</code> and not healed. The goals above compare the child with each baseline's line at the child's " +
               "measured speedup, where no model of the baseline measured at least as fast is better (it would serve at that speed too).</p><div class=\"panels\">" +
               SvgChart.Render([.. report.Curves.Select(c => Line(c, p => p.Kl))], "measured speedup (× parent)", "KL(parent ‖ model)", width: 560) +
               retention +
               "</div>\n";
    }

    static IReadOnlyList<SvgChart.Series> Lines(IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> curves) =>
        [.. curves.Select(c => new SvgChart.Series(c.Name, c.Points))];

    static double? Kl(PipelineReport report, string model) => report.Models.FirstOrDefault(m => m.Name == model)?.Kl;
    static double? Agreement(PipelineReport report, string model) => report.Models.FirstOrDefault(m => m.Name == model)?.Agreement;

    static string H(string? s) => WebUtility.HtmlEncode(s ?? "");
    static string Mark(bool? v) => v == true ? "<span class=\"ok\">yes</span>" : "<span class=\"no\">no</span>";
}
