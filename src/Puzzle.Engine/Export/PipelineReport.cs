using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Evaluation.Tasks;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Export;

/// <summary>
/// report.json: the Report stage's comparison of parent, children and baselines, as one record that the stage writes
/// and every reader (the HTML page, the console table, the model card, Pack, <c>puzzle report</c>) reads.
/// </summary>
public sealed record PipelineReport(string Pipeline, string Key, ReportScenario Scenario, IReadOnlyList<ReportConstraint> Constraints,
    IReadOnlyList<ReportEntry> Models)
{
    public const string FileName = "report.json";

    /// <summary>Search's closed loop as architectures.json describes it (rounds of measured speedup), if it ran.</summary>
    public ClosedLoopSummary? ClosedLoop { get; init; }
    public ReportGoals? Goals { get; init; }
    public IReadOnlyList<string> TrainingWarnings { get; init; } = [];
    /// <summary>Timings of the parent that disagree by more than the ±10% predictions are held to (the measured speedups
    /// are then uncertain by about as much).</summary>
    public IReadOnlyList<string> TimingWarnings { get; init; } = [];
    /// <summary>Per method (puzzle, then each baseline), its models' quality against measured speedup, in order of
    /// predicted speedup:
    /// the healed model at the spec's target and the assembled-only ones at evaluation.speed_targets.</summary>
    public IReadOnlyList<MethodCurve> Curves { get; init; } = [];

    public void Write(string path) => RecordFile.Write(path, this);

    /// <exception cref="ExportException">The file is missing, not JSON, or a row lacks its name or kind.</exception>
    public static PipelineReport Read(string path)
    {
        if (!File.Exists(path)) throw new ExportException($"{path}: the pipeline's report is missing");
        PipelineReport? report;
        try { report = JsonSerializer.Deserialize<PipelineReport>(File.ReadAllText(path), PuzzleJson.Options); }
        catch (JsonException e) { throw new ExportException($"{path}: not a valid report ({JsonErrors.Describe(e)})", e); }
        if (report?.Models is null) throw new ExportException($"{path}: field 'models' is missing or not a list");
        for (var i = 0; i < report.Models.Count; i++)
        {
            var row = report.Models[i] ?? throw new ExportException($"{path}: field 'models[{i}]' is not an object");
            if (string.IsNullOrEmpty(row.Name)) throw new ExportException($"{path}: field 'models[{i}].name' is missing or not a string");
            if (string.IsNullOrEmpty(row.Kind)) throw new ExportException($"{path}: field 'models[{i}].kind' is missing or not a string");
        }
        return report with { Scenario = report.Scenario ?? new ReportScenario(null, 0, 0, 0, null, null), Constraints = report.Constraints ?? [] };
    }
}

/// <summary>The scenario speeds were measured in: where (device and machine), and what the predicted speedups come from.</summary>
public sealed record ReportScenario(string? Device, int Batch, int Prompt, int Generate, string? MeasuredOn, string? CostModel)
{
    /// <summary>"device: machine", as the card prints it; null when the report does not say.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? MeasuredOnDevice => MeasuredOn is null ? null : $"{Device}: {MeasuredOn}";
}

/// <summary>One constraint the search held the models to.</summary>
public sealed record ReportConstraint(string Label, string Resource, double Max);

/// <summary>One model's row: quality against the parent, measured and predicted speed, its tasks, its layers.</summary>
public sealed record ReportEntry(string Name, string Kind)
{
    public string? Skipped { get; init; }
    public double? Top1 { get; init; }
    public double? Loss { get; init; }
    public double? Kl { get; init; }
    public double? Agreement { get; init; }
    public double? Retention { get; init; }
    public double? PrefillTokensPerS { get; init; }
    public double? DecodeTokensPerS { get; init; }
    public double? ScenarioTokensPerS { get; init; }
    public long? Parameters { get; init; }
    public IReadOnlyList<TaskResult> Tasks { get; init; } = [];
    public ReportSpeedup? Speedup { get; init; }
    public IReadOnlyList<LayerChoice>? Layers { get; init; }
    public ReportGkd? Gkd { get; init; }

    /// <summary>One task's result, or null.</summary>
    public TaskResult? Task(string name) => Tasks.FirstOrDefault(t => t.Name == name);
}

/// <summary>Speedups against the parent: the search's prediction and, measured, prefill, decode and the whole request.</summary>
public sealed record ReportSpeedup(double Predicted, double Prefill, double Decode, double Scenario);

/// <summary>A model's accuracy on one multiple-choice task, with retention = its accuracy / the parent's (null where the
/// parent scored zero).</summary>
public sealed record TaskResult(string Name, int Examples, int Choices, double Accuracy, double AccuracyNorm, double Chance)
{
    public double? Retention { get; init; }
    public double? RetentionNorm { get; init; }

    public static TaskResult Of(TaskScore score, TaskScore? parent) => new(score.Name, score.Examples, score.Choices, score.Accuracy,
        score.AccuracyNorm, score.Chance)
    {
        Retention = parent is { Accuracy: > 0 } p ? score.Accuracy / p.Accuracy : null,
        RetentionNorm = parent is { AccuracyNorm: > 0 } q ? score.AccuracyNorm / q.AccuracyNorm : null,
    };
}

/// <summary>What GKD did to a model: tokens and speed, and KL on the held-out check before and after.</summary>
public sealed record ReportGkd(long Tokens, double TokensPerS, double? KlBefore, double? KlAfter);

/// <summary>The goals for the best child: top-1 retention, measured speedup, and lower KL and higher agreement than
/// every baseline at the child's measured speed (<see cref="BeatsBaselines"/>, on the baselines' curves).</summary>
public sealed record ReportGoals(double RetentionMin, double? SpeedupTarget, bool Met)
{
    public string? Why { get; init; }
    public string? Child { get; init; }
    public double? Retention { get; init; }
    public double? MeasuredSpeedup { get; init; }
    public bool? RetentionMet { get; init; }
    public bool? SpeedupMet { get; init; }
    public IReadOnlyDictionary<string, BaselineComparison> BeatsBaselines { get; init; } = new Dictionary<string, BaselineComparison>();
}

/// <summary>
/// The best child against one baseline at equal measured speed (<see cref="Reporting.EqualSpeed"/>): the baseline's
/// KL, agreement and retention read off its curve at the child's measured speedup <see cref="AtSpeedup"/> (each never
/// worse than a model of the baseline measured at least as fast), and how
/// (<see cref="Placement"/>: interpolated, nearest, or outside_range where the baseline was not measured near that speed
/// and nothing is compared). <see cref="Beats"/>: lower KL and higher agreement there; null when not compared.
/// </summary>
public sealed record BaselineComparison(string Placement, double AtSpeedup)
{
    /// <summary>Which of the baseline's models the values come from, in words.</summary>
    public string Rule { get; init; } = "";
    public double? Kl { get; init; }
    public double? Agreement { get; init; }
    public double? Retention { get; init; }
    public bool? KlLower { get; init; }
    public bool? AgreementHigher { get; init; }
    public bool? RetentionHigher { get; init; }
    /// <summary>True when every baseline model the values come from was healed by GKD, as the child was (false: an
    /// assembled-only model contributes, which flatters the child).</summary>
    public bool HealedOnly { get; init; }
    public bool? Beats => KlLower is { } k && AgreementHigher is { } a ? k && a : null;
}

/// <summary>One method's models (puzzle: its best child; else a baseline) as a curve of quality against measured speed.</summary>
public sealed record MethodCurve(string Method, IReadOnlyList<SpeedPoint> Points);

/// <summary>One model on a curve: healed by GKD (at the spec's target) or assembled from the library only (at an extra
/// target of evaluation.speed_targets, <see cref="Target"/>); its quality against the parent and its speedups.</summary>
public sealed record SpeedPoint(string Model, bool Healed, double Kl, double Agreement, double? Retention, PointSpeedup Speedup)
{
    /// <summary>The throughput target (× parent) it was chosen for; null: the spec's constraints.</summary>
    public double? Target { get; init; }
}

/// <summary>A curve point's speedups against the parent: the cost model's and the measured whole request's.</summary>
public sealed record PointSpeedup(double Predicted, double Measured);
