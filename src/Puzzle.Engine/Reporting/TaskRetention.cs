using System.Globalization;
using System.Net;
using System.Text;
using Puzzle.Engine.Export;

namespace Puzzle.Engine.Reporting;

/// <summary>
/// Multiple-choice task results in the report: per model and task, accuracy, per-character accuracy, and retention =
/// the model's accuracy / the parent's, the measure the paper's 98.4% is.
/// </summary>
public static class TaskRetention
{
    /// <summary>The task names of a report's models, in the parent's order.</summary>
    public static IReadOnlyList<string> Names(IEnumerable<ReportEntry> models) => models.SelectMany(m => m.Tasks.Select(t => t.Name)).Distinct().ToList();

    /// <summary>The report page's task table: one row per model, per task accuracy, per-character accuracy and retention.</summary>
    public static string Html(IReadOnlyList<ReportEntry> models)
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
        foreach (var m in models.Where(m => m.Skipped is null))
        {
            html.Append($"<tr class=\"{H(m.Kind)}\"><td>{H(m.Name)}</td>");
            foreach (var n in names)
            {
                var t = m.Task(n);
                html.Append($"<td>{P(t?.Accuracy)}</td><td>{P(t?.AccuracyNorm)}</td><td>{P(t?.Retention)}</td>");
            }
            html.AppendLine("</tr>");
        }
        html.AppendLine("</table></div>");
        return html.ToString();
    }

    /// <summary>One line per task for the console: each model's accuracy, per-character accuracy and retention.</summary>
    public static string Text(IReadOnlyList<ReportEntry> models)
    {
        var text = new StringBuilder();
        foreach (var n in Names(models))
            text.AppendLine($"task {n} (acc / acc_norm, retention): " + string.Join(", ", models.Where(m => m.Skipped is null)
                .Select(m => (m, t: m.Task(n))).Where(x => x.t is not null)
                .Select(x => $"{x.m.Name} {P(x.t!.Accuracy)} / {P(x.t.AccuracyNorm)}" + (x.t.Retention is { } r ? $" ({P(r)})" : ""))));
        return text.ToString();
    }

    static string Describe(IReadOnlyList<ReportEntry> models, string name)
    {
        var t = models.Select(m => m.Task(name)).FirstOrDefault(t => t is not null);
        return t is null ? "" : $"{H(name)}: {t.Examples} questions of {t.Choices} choices (chance {P(t.Chance)}).";
    }

    static string H(string s) => WebUtility.HtmlEncode(s);

    public static string P(double? d) => d is { } v ? (v * 100).ToString("0.0", CultureInfo.InvariantCulture) + " %" : "–";
}
