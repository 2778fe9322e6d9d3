using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Puzzle.Engine.Reporting;

/// <summary>report.json's models as a plain-text table (for the console and <c>puzzle report</c>).</summary>
public static class ReportTable
{
    static readonly string[] Header = ["model", "kind", "top-1", "retention", "loss", "KL", "agreement", "prefill tok/s", "decode tok/s", "speedup pred/meas"];

    public static string Render(JsonObject report)
    {
        var rows = new List<string[]> { Header };
        foreach (var m in report["models"]!.AsArray().Select(m => m!.AsObject()))
        {
            if (m["skipped"] is { } why)
            {
                rows.Add([(string)m["name"]!, (string)m["kind"]!, $"skipped: {why}", "", "", "", "", "", "", ""]);
                continue;
            }
            rows.Add([
                (string)m["name"]!, (string)m["kind"]!, P(m["top1"]), P(m["retention"]), F(m["loss"], "0.000"), F(m["kl"], "0.0000"),
                P(m["agreement"]), F(m["prefill_tokens_per_s"], "N0"), F(m["decode_tokens_per_s"], "N0"),
                $"{F(m["speedup"]!["predicted"], "0.00")}x / {F(m["speedup"]!["scenario"], "0.00")}x",
            ]);
        }
        var widths = Enumerable.Range(0, Header.Length).Select(c => rows.Where(r => !r[2].StartsWith("skipped", StringComparison.Ordinal) || c < 2).Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        text.AppendLine($"{report["pipeline"]}: parent, children and baselines on held-out text; speed in the scenario " +
                        $"(batch {report["scenario"]!["batch"]}, prompt {report["scenario"]!["prompt"]}, generate {report["scenario"]!["generate"]}, {report["scenario"]!["device"]})");
        if (report["scenario"]!["cost_model"] is { } costModel) text.AppendLine($"predicted speedups: {costModel}");
        if (report["closed_loop"]?["rounds"] is JsonArray { Count: > 0 } rounds)
            text.AppendLine($"closed loop: the search timed its child {rounds.Count} time{(rounds.Count == 1 ? "" : "s")}: " +
                            string.Join(", ", rounds.Select(r => $"{(double)r!["measured_speedup"]!:0.00}x")) +
                            ((bool?)report["closed_loop"]!["met"] == true ? " (meets the time constraints as measured)" : " (still short of a time constraint)"));
        foreach (var r in rows)
            text.AppendLine(r[2].StartsWith("skipped", StringComparison.Ordinal)
                ? $"{r[0].PadRight(widths[0])}  {r[1].PadRight(widths[1])}  {r[2]}"
                : string.Join("  ", r.Select((cell, c) => c < 2 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        text.Append(TaskRetention.Text(report["models"]!.AsArray().Select(m => m!.AsObject()).ToList()));
        if (report["goals"] is JsonObject g && g["child"] is not null)
            text.AppendLine($"goals for {g["child"]}: retention {P(g["retention"])} (≥ {P(g["retention_min"])}: {Yes(g["retention_met"])}), " +
                            $"measured speedup {F(g["measured_speedup"], "0.00")}x (target {F(g["speedup_target"], "0.##")}x: {Yes(g["speedup_met"])}), " +
                            $"lower KL and higher agreement than every baseline: {Yes(g["beats_baselines"]!.AsObject().All(b => (bool)b.Value!["kl_lower"]! && (bool)b.Value!["agreement_higher"]!))}");
        if (report["training_warnings"] is JsonArray { Count: > 0 } warnings)
            foreach (var w in warnings) text.AppendLine($"warning: {w}");
        return text.ToString();
    }

    static string P(JsonNode? v) => v is null ? "" : ((double)v).ToString("P1", CultureInfo.InvariantCulture);
    static string F(JsonNode? v, string format) => v is null ? "-" : ((double)v).ToString(format, CultureInfo.InvariantCulture);
    static string Yes(JsonNode? v) => v is not null && (bool)v ? "yes" : "no";
}
