using System.Text.Json.Nodes;

namespace Puzzle.Engine.Export;

/// <summary>What the model card says beyond the model itself: where it came from and how it measured.</summary>
public sealed record ModelCardContext
{
    public required string Pipeline { get; init; }
    /// <summary>The report's name for the exported model, e.g. <c>child1</c>.</summary>
    public required string Model { get; init; }
    /// <summary>
    /// The pipeline key: the Report job's key, which hashes every setting and input behind the compared models. The
    /// card, report.html and the package's provenance (<c>puzzle verify</c>) all show this one key.
    /// </summary>
    public string? PipelineKey { get; init; }
    /// <summary>The parent: its folder as the spec names it, or "pretrained here".</summary>
    public string? Parent { get; init; }
    /// <summary>The spec's <c>export.license</c> (an SPDX id or "other"); null: a placeholder the card says to fill in.</summary>
    public string? License { get; init; }
    /// <summary>The spec's <c>export.base_model</c>: the parent's Hugging Face id, when it has one.</summary>
    public string? BaseModel { get; init; }
    /// <summary>The key of the job whose weights were exported (e.g. Heal/child1).</summary>
    public string? WeightsKey { get; init; }
    public string? WeightsJob { get; init; }
    public IReadOnlyList<ReportEntry> Report { get; init; } = [];
    /// <summary>The report's training warnings: block variants and models whose training made them worse on held-out
    /// text, each of which published its starting weights.</summary>
    public IReadOnlyList<string> TrainingWarnings { get; init; } = [];
    /// <summary>The report's goals: the best child against each baseline at equal measured speed.</summary>
    public ReportGoals? Goals { get; init; }
    /// <summary>The report's timing warnings: the parent timed more than 10% apart, or the costs on another machine, so
    /// that the speedups quoted are uncertain by about as much.</summary>
    public IReadOnlyList<string> TimingWarnings { get; init; } = [];
    /// <summary>The spec's scenario and constraints sections, as the job keys hash them.</summary>
    public JsonObject? Scenario { get; init; }
    public JsonObject? Constraints { get; init; }
    public string Tool { get; init; } = "";
    /// <summary>What the speeds were measured on (report.json's scenario.measured_on): the CPU model and threads, or the GPU.</summary>
    public string? MeasuredOn { get; init; }

    /// <summary>What the predicted speedups come from (report.json's scenario.cost_model): measured blocks or a roofline.</summary>
    public string? CostModel { get; init; }

    /// <summary>The tokens per sequence the model was trained and evaluated on (the spec's <c>data.seq_len</c>); the
    /// card's <c>puzzle eval</c> command reads text in windows of it.</summary>
    public int? SeqLen { get; init; }
}
