using System.Globalization;
using System.Text;

namespace Puzzle.Engine.Search;

/// <summary>Plain-text report of an architecture (for <c>puzzle search --explain</c>).</summary>
public static class Explain
{
    /// <summary>
    /// One row per layer and slot: the chosen option with its score and costs; then the totals of every resource
    /// (fixed + blocks) against the limits, and the total score and parameters.
    /// </summary>
    public static string Table(Architecture a, SearchProblem p)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(p);
        var resources = p.Resources;
        var rows = new List<string[]> { (string[])["layer", "slot", "option", "score", .. resources, "params"] };
        foreach (var choice in a.Layers)
        {
            var layer = p.Layers.FirstOrDefault(l => l.Layer == choice.Layer)
                ?? throw new ArgumentException($"layer {choice.Layer} is not in the problem");
            rows.Add(Row(choice.Layer, layer.IsBlocks ? "block" : "attention", Find(layer.Attention, choice.Attention, choice.Layer), resources));
            if (!layer.IsBlocks) rows.Add(Row(choice.Layer, "ffn", Find(layer.Ffn, choice.Ffn, choice.Layer), resources));
        }
        var text = new StringBuilder();
        AppendAligned(text, rows, rightFrom: 3);
        text.AppendLine();
        text.AppendLine($"score {F(a.Score)}   parameters {a.Parameters.ToString("N0", CultureInfo.InvariantCulture)}");
        text.AppendLine();

        var totals = new List<string[]> { (string[])["resource", "fixed", "blocks", "total", "limit", "", "target"] };
        foreach (var r in resources)
        {
            var limits = p.Limits.Where(l => l.Resource == r).ToList();
            var total = a.Cost(r);
            if (limits.Count == 0) totals.Add([r, F(p.Fixed(r)), F(total - p.Fixed(r)), F(total), "", "", ""]);
            foreach (var l in limits)
                totals.Add([r, F(p.Fixed(r)), F(total - p.Fixed(r)), F(total), F(l.Max), total <= IntegerScaling.Allowed(p, l) ? "ok" : "OVER",
                    l.Describe is { } describe ? $"{l.Label} (reaches {describe(total)})" : l.Label]);
        }
        AppendAligned(text, totals, rightFrom: 1, rightTo: 4);
        return text.ToString();
    }

    static SearchOption Find(IReadOnlyList<SearchOption> options, string id, int layer) =>
        options.FirstOrDefault(o => o.Id == id) ?? throw new ArgumentException($"layer {layer} has no option \"{id}\"");

    static string[] Row(int layer, string slot, SearchOption o, IReadOnlyList<string> resources) =>
        [layer.ToString(CultureInfo.InvariantCulture), slot, o.Id, F(o.Score), .. resources.Select(r => F(o.Cost(r))),
            o.Parameters.ToString("N0", CultureInfo.InvariantCulture)];

    static void AppendAligned(StringBuilder text, List<string[]> rows, int rightFrom, int rightTo = int.MaxValue)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
            text.AppendLine(string.Join("  ", row.Select((cell, c) =>
                c >= rightFrom && c <= rightTo ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd());
    }

    static string F(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
}
