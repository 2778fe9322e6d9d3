using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Puzzle.Engine.Reporting;

/// <summary>
/// Multiple-choice task results in the report: per model and task, accuracy, per-character accuracy, and retention =
/// the model's accuracy / the parent's, the measure the paper's 98.4% is.
/// </summary>
public static class TaskRetention
{
    /// <summary>A model's <c>tasks</c> rows from its Evaluate metrics, with retention against the parent's rows.</summary>
    public static JsonArray Rows(JsonNode? tasks, JsonNode? parentTasks)
    {
        var parent = (parentTasks as JsonArray ?? []).Select(t => t!.AsObject()).ToDictionary(t => (string)t["name"]!);
        var rows = new JsonArray();
        foreach (var task in (tasks as JsonArray ?? []).Select(t => t!.AsObject()))
        {
            var row = (JsonObject)task.DeepClone();
            if (parent.TryGetValue((string)task["name"]!, out var p))
            {
                row["retention"] = Ratio(task["accuracy"], p["accuracy"]);
                row["retention_norm"] = Ratio(task["accuracy_norm"], p["accuracy_norm"]);
            }
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>A ratio, or null where the parent scored zero (a retention of nothing is no number).</summary>
    static JsonNode? Ratio(JsonNode? model, JsonNode? parent) =>
        parent is JsonValue pv && (double)pv > 0 && model is JsonValue mv ? JsonValue.Create((double)mv / (double)pv) : null;

    /// <summary>The task names of a report's models, in the parent's order.</summary>
    public static IReadOnlyList<string> Names(IEnumerable<JsonObject> models) =>
        models.SelectMany(m => (m["tasks"] as JsonArray ?? []).Select(t => (string)t!["name"]!)).Distinct().ToList();

    /// <summary>One model's result on one task, or null.</summary>
    public static JsonObject? Find(JsonObject model, string task) =>
        (model["tasks"] as JsonArray ?? []).Select(t => t!.AsObject()).FirstOrDefault(t => (string)t["name"]! == task);

    /// <summary>The report page's task table: one row per model, per task accuracy, per-character accuracy and retention.</summary>
    public static string Html(IReadOnlyList<JsonObject> models)
    {
        var names = Names(models);
        if (names.Count == 0) return "";
        var html = new StringBuilder();
        html.AppendLine("<h2>Multiple-choice tasks</h2><p>Each choice is scored by the summed log-likelihood of its tokens after the context; " +
                        "<b>acc</b> picks the highest sum, <b>acc_norm</b> the highest sum per character of the choice (as lm-evaluation-harness' " +
                        "acc and acc_norm); <b>retention</b> is the model's acc / the parent's. " +
                        string.Join(" ", names.Select(n => Describe(models, n))) + "</p>");
        html.AppendLine("<div class=\"scroll\"><table><tr><th rowspan=\"2\">model</th>" +
                        string.Concat(names.Select(n => $"<th class=\"group\" colspan=\"3\">{H(n)}</th>")) + "</tr><tr>" +
                        string.Concat(names.Select(_ => "<th>acc</th><th>acc_norm</th><th>retention</th>")) + "</tr>");
        foreach (var m in models.Where(m => m["skipped"] is null))
        {
            html.Append($"<tr class=\"{H(m["kind"])}\"><td>{H(m["name"])}</td>");
            foreach (var n in names)
            {
                var t = Find(m, n);
                html.Append($"<td>{P(t?["accuracy"])}</td><td>{P(t?["accuracy_norm"])}</td><td>{P(t?["retention"])}</td>");
            }
            html.AppendLine("</tr>");
        }
        html.AppendLine("</table></div>");
        return html.ToString();
    }

    /// <summary>One line per task for the console: each model's accuracy, per-character accuracy and retention.</summary>
    public static string Text(IReadOnlyList<JsonObject> models)
    {
        var text = new StringBuilder();
        foreach (var n in Names(models))
            text.AppendLine($"task {n} (acc / acc_norm, retention): " + string.Join(", ", models.Where(m => m["skipped"] is null)
                .Select(m => (m, t: Find(m, n))).Where(x => x.t is not null)
                .Select(x => $"{x.m["name"]} {P(x.t!["accuracy"])} / {P(x.t["accuracy_norm"])}" + (x.t["retention"] is { } r ? $" ({P(r)})" : ""))));
        return text.ToString();
    }

    static string Describe(IReadOnlyList<JsonObject> models, string name)
    {
        var t = models.Select(m => Find(m, name)).FirstOrDefault(t => t is not null);
        return t is null ? "" : $"{H(name)}: {H(t["examples"])} questions of {H(t["choices"])} choices (chance {P(t["chance"])}).";
    }

    static string H(JsonNode? n) => WebUtility.HtmlEncode(n?.ToString() ?? "");

    public static string P(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d)
        ? (d * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %" : "–";
}
