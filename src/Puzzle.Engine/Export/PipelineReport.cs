using System.Text.Json;
using System.Text.Json.Nodes;

namespace Puzzle.Engine.Export;

/// <summary>One model's row of a pipeline's <c>report.json</c> (the Report stage's comparison of parent, children and baselines).</summary>
public sealed record ReportEntry(string Name, string Kind)
{
    public double? Top1 { get; init; }
    public double? Loss { get; init; }
    public double? Kl { get; init; }
    public double? Agreement { get; init; }
    public double? Retention { get; init; }
    public double? PrefillTokensPerS { get; init; }
    public double? DecodeTokensPerS { get; init; }
    public double? PredictedSpeedup { get; init; }
    public double? PrefillSpeedup { get; init; }
    public double? DecodeSpeedup { get; init; }
    /// <summary>The whole request's speedup: the scenario's tokens per second (prefill and decode) against the parent's.</summary>
    public double? ScenarioSpeedup { get; init; }
    /// <summary>The row as the report wrote it, every field included.</summary>
    public JsonObject Raw { get; init; } = new();
}

/// <summary>report.json's <c>scenario</c> as the model card quotes it: where speeds were measured (device and
/// machine) and what the predicted speedups come from.</summary>
public sealed record ReportScenario(string? Device, string? MeasuredOn, string? CostModel)
{
    /// <summary>"device: machine", as the card prints it; null when the report does not say.</summary>
    public string? MeasuredOnDevice => MeasuredOn is null ? null : $"{Device}: {MeasuredOn}";
}

/// <summary>Reads <c>report.json</c>: <c>{"pipeline": name, "models": [{"name", "kind", "top1", ..., "speedup": {...}}]}</c>.</summary>
public static class PipelineReport
{
    public const string FileName = "report.json";

    /// <exception cref="ExportException">The file is missing, not JSON, or a row lacks its name or kind.</exception>
    public static IReadOnlyList<ReportEntry> Read(string path)
    {
        if (!File.Exists(path)) throw new ExportException($"{path}: the pipeline's report is missing");
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ExportException($"{path}: not valid JSON ({e.Message})", e); }
        if (root?["models"] is not JsonArray models) throw new ExportException($"{path}: field 'models' is missing or not a list");
        var entries = new List<ReportEntry>();
        for (var i = 0; i < models.Count; i++)
        {
            if (models[i] is not JsonObject row) throw new ExportException($"{path}: field 'models[{i}]' is not an object");
            string Text(string field) => row[field] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0
                ? s : throw new ExportException($"{path}: field 'models[{i}].{field}' is missing or not a string");
            double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
            var speedup = row["speedup"] as JsonObject;
            entries.Add(new ReportEntry(Text("name"), Text("kind"))
            {
                Top1 = Number(row["top1"]), Loss = Number(row["loss"]), Kl = Number(row["kl"]), Agreement = Number(row["agreement"]),
                Retention = Number(row["retention"]), PrefillTokensPerS = Number(row["prefill_tokens_per_s"]),
                DecodeTokensPerS = Number(row["decode_tokens_per_s"]), PredictedSpeedup = Number(speedup?["predicted"]),
                PrefillSpeedup = Number(speedup?["prefill"]), DecodeSpeedup = Number(speedup?["decode"]), ScenarioSpeedup = Number(speedup?["scenario"]),
                Raw = (JsonObject)row.DeepClone(),
            });
        }
        return entries;
    }

    /// <summary>The report's scenario fields the model card quotes (all null in a report without them).</summary>
    public static ReportScenario ReadScenario(string path)
    {
        if (!File.Exists(path)) throw new ExportException($"{path}: the pipeline's report is missing");
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ExportException($"{path}: not valid JSON ({e.Message})", e); }
        static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        var scenario = root?["scenario"] as JsonObject;
        return new ReportScenario(Text(scenario?["device"]), Text(scenario?["measured_on"]), Text(scenario?["cost_model"]));
    }
}
