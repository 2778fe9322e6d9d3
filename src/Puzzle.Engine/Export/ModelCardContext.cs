using System.Text.Json.Nodes;

namespace Puzzle.Engine.Export;

/// <summary>What the model card says beyond the model itself: where it came from and how it measured.</summary>
public sealed record ModelCardContext
{
    public required string Pipeline { get; init; }
    /// <summary>The report's name for the exported model, e.g. <c>child1</c>.</summary>
    public required string Model { get; init; }
    /// <summary>The key of the job that exported it: it covers every input, so it names this model's whole history.</summary>
    public string? PipelineKey { get; init; }
    /// <summary>The key of the job whose weights were exported (e.g. Heal/child1).</summary>
    public string? WeightsKey { get; init; }
    public string? WeightsJob { get; init; }
    public IReadOnlyList<ReportEntry> Report { get; init; } = [];
    /// <summary>The spec's scenario and constraints sections, as the job keys hash them.</summary>
    public JsonObject? Scenario { get; init; }
    public JsonObject? Constraints { get; init; }
    public string Tool { get; init; } = "";
}
