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
        // parameters are one column, in one format: the params resource where the problem budgets them
        var paramsColumn = !resources.Contains(ParamsResource);
        var rows = new List<string[]> { (string[])["layer", "slot", "option", "score", .. resources, .. (paramsColumn ? new[] { ParamsResource } : [])] };
        foreach (var choice in a.Layers)
        {
            var layer = p.Layers.FirstOrDefault(l => l.Layer == choice.Layer)
                ?? throw new ArgumentException($"layer {choice.Layer} is not in the problem");
            rows.Add(Row(choice.Layer, layer.IsBlocks ? "block" : "attention", Find(layer.Attention, choice.Attention, choice.Layer), resources, paramsColumn));
            if (!layer.IsBlocks) rows.Add(Row(choice.Layer, "ffn", Find(layer.Ffn, choice.Ffn, choice.Layer), resources, paramsColumn));
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
            if (limits.Count == 0) totals.Add([r, Of(r, p.Fixed(r)), Of(r, total - p.Fixed(r)), Of(r, total), "", "", ""]);
            foreach (var l in limits)
                totals.Add([r, Of(r, p.Fixed(r)), Of(r, total - p.Fixed(r)), Of(r, total), Of(r, l.Max), total <= IntegerScaling.Allowed(p, l) ? "ok" : "OVER",
                    l.Describe is { } describe ? $"{l.Label} (reaches {describe(total)})" : l.Label]);
        }
        AppendAligned(text, totals, rightFrom: 1, rightTo: 4);
        return text.ToString();
    }

    /// <summary>What the closed loop measured, in one line (null when it timed nothing): the measured speedup of each
    /// round's child and whether the last one meets the time constraints as measured. A child the loop left short of
    /// them is still the search's answer, so whoever reads the architecture must read this too.</summary>
    public static string? ClosedLoop(ClosedLoopSummary loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        if (loop.Rounds.Count == 0) return null;
        return $"closed loop: the search timed its child {loop.Rounds.Count} time{(loop.Rounds.Count == 1 ? "" : "s")}: " +
               string.Join(", ", loop.Rounds.Select(r => $"{r.MeasuredSpeedup.ToString("0.00", CultureInfo.InvariantCulture)}x")) +
               (loop.Met == true ? " (meets the time constraints as measured)"
                   : " (still short of a time constraint as measured: the child below misses its target on this machine; " +
                     "the predicted speedup and the 'ok' rows are the cost model's)");
    }

    static SearchOption Find(IReadOnlyList<SearchOption> options, string id, int layer) =>
        options.FirstOrDefault(o => o.Id == id) ?? throw new ArgumentException($"layer {layer} has no option \"{id}\"");

    static string[] Row(int layer, string slot, SearchOption o, IReadOnlyList<string> resources, bool paramsColumn) =>
        [layer.ToString(CultureInfo.InvariantCulture), slot, o.Id, F(o.Score), .. resources.Select(r => Of(r, o.Cost(r))),
            .. (paramsColumn ? new[] { o.Parameters.ToString("N0", CultureInfo.InvariantCulture) } : [])];

    const string ParamsResource = "params";

    /// <summary>A resource's amount as people read it: bytes in KiB/MiB/GiB, seconds in µs/ms/s, parameters as a count.</summary>
    public static string Of(string resource, double v)
    {
        var a = Math.Abs(v);
        if (resource.EndsWith("_bytes", StringComparison.Ordinal))
            return a switch
            {
                < 1024 => $"{v.ToString("0", CultureInfo.InvariantCulture)} B",
                < 1 << 20 => $"{(v / 1024).ToString("0.##", CultureInfo.InvariantCulture)} KiB",
                < 1 << 30 => $"{(v / (1 << 20)).ToString("0.##", CultureInfo.InvariantCulture)} MiB",
                _ => $"{(v / (1 << 30)).ToString("0.##", CultureInfo.InvariantCulture)} GiB",
            };
        if (resource.EndsWith("_s", StringComparison.Ordinal))
            return a switch
            {
                0 => "0 s",
                < 1e-3 => $"{(v * 1e6).ToString("0.#", CultureInfo.InvariantCulture)} µs",
                < 1 => $"{(v * 1e3).ToString("0.##", CultureInfo.InvariantCulture)} ms",
                _ => $"{v.ToString("0.###", CultureInfo.InvariantCulture)} s",
            };
        if (resource == ParamsResource) return v.ToString("N0", CultureInfo.InvariantCulture);
        return F(v);
    }

    static void AppendAligned(StringBuilder text, List<string[]> rows, int rightFrom, int rightTo = int.MaxValue)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
            text.AppendLine(string.Join("  ", row.Select((cell, c) =>
                c >= rightFrom && c <= rightTo ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd());
    }

    static string F(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
}
