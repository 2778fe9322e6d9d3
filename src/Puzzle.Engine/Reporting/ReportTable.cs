using System.Globalization;
using System.Text;
using Puzzle.Engine.Export;
using Puzzle.Engine.Search;
using static Puzzle.Engine.Reporting.ReportFormat;

namespace Puzzle.Engine.Reporting;

/// <summary>report.json's models as a plain-text table (for the console and <c>puzzle report</c>).</summary>
public static class ReportTable
{
    static readonly string[] Header = ["model", "kind", "top-1", "retention", "loss", "KL", "agreement", "prefill tok/s", "decode tok/s", "speedup pred/meas"];

    public static string Render(PipelineReport report)
    {
        var rows = new List<string[]> { Header };
        foreach (var m in report.Models)
        {
            if (m.Skipped is { } why)
            {
                rows.Add([m.Name, m.Kind, $"skipped: {why}", "", "", "", "", "", "", ""]);
                continue;
            }
            rows.Add([
                m.Name, m.Kind, P(m.Top1), P(m.Retention), F(m.Loss, "0.000"), F(m.Kl, "0.0000"),
                P(m.Agreement), F(m.PrefillTokensPerS, "N0"), F(m.DecodeTokensPerS, "N0"),
                $"{F(m.Speedup?.Predicted, "0.00")}x / {F(m.Speedup?.Scenario, "0.00")}x",
            ]);
        }
        var widths = Enumerable.Range(0, Header.Length).Select(c => rows.Where(r => !r[2].StartsWith("skipped", StringComparison.Ordinal) || c < 2).Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        var s = report.Scenario;
        text.AppendLine($"{report.Pipeline}: parent, children and baselines on held-out text; speed in the scenario " +
                        $"(batch {s.Batch}, prompt {s.Prompt}, generate {s.Generate}, {s.Device})");
        if (s.CostModel is { } costModel) text.AppendLine($"predicted speedups: {costModel}");
        if (report.ClosedLoop is { } loop && Explain.ClosedLoop(loop) is { } closedLoop) text.AppendLine(closedLoop);
        foreach (var r in rows)
            text.AppendLine(r[2].StartsWith("skipped", StringComparison.Ordinal)
                ? $"{r[0].PadRight(widths[0])}  {r[1].PadRight(widths[1])}  {r[2]}"
                : string.Join("  ", r.Select((cell, c) => c < 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        text.Append(TaskRetention.Text(report.Models));
        if (report.Goals is { Child: { } child } g)
        {
            text.AppendLine($"goals for {child}: retention {P(g.Retention, g.RetentionMin, "-")} (≥ {P(g.RetentionMin)}: {Yes(g.RetentionMet)}), " +
                            $"measured speedup {F(g.MeasuredSpeedup, 2, g.SpeedupTarget)}x ({(g.SpeedupTarget is null ? "no throughput_vs_parent target" : $"target {F(g.SpeedupTarget, "0.##")}x: {Yes(g.SpeedupMet)}")}), " +
                            $"lower KL and higher agreement than every baseline at equal measured speed: {Yes(g.BeatsBaselines.Values.All(b => b.Beats == true))}");
            var own = report.Models.FirstOrDefault(m => m.Name == child);
            foreach (var (name, b) in g.BeatsBaselines)
                text.AppendLine(b.Beats is null ? $"  against {name}: {b.Rule}"
                    : $"  against {name} at {F(b.AtSpeedup, "0.00")}x: KL {F(own?.Kl, 4, b.Kl)} vs {F(b.Kl, 4, own?.Kl)} ({Yes(b.KlLower)}), " +
                      $"agreement {P(own?.Agreement, b.Agreement)} vs {P(b.Agreement, own?.Agreement)} ({Yes(b.AgreementHigher)}), " +
                      $"retention {P(own?.Retention, b.Retention, "-")} vs {P(b.Retention, own?.Retention, "-")} ({Yes(b.RetentionHigher)}); {b.Rule}");
            if (g.Why is { } why) text.AppendLine($"  {why}");
        }
        foreach (var w in report.TrainingWarnings.Concat(report.TimingWarnings)) text.AppendLine($"warning: {w}");
        return text.ToString();
    }

    static string Yes(bool? v) => v == true ? "yes" : "no";
}
