using System.Text.Json.Nodes;
using Puzzle.Engine.Export;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// architectures.json: what the Search job chose. The batch its predictions refer to (scenario.batch) and every batch
/// size the constraints held at, the constraints as specified, the parent's predicted and measured time, the
/// architectures (best first), each baseline (or why it has none), and the closed loop.
/// </summary>
public sealed record SearchResult(int Batch, IReadOnlyList<int> BatchSizes, string Method, IReadOnlyList<ReportConstraint> Constraints,
    ParentPrediction Parent, IReadOnlyList<ChosenArchitecture> Architectures, IReadOnlyDictionary<string, ChosenArchitecture> Baselines,
    ClosedLoopSummary ClosedLoop)
{
    public static SearchResult Read(string jobDirectory) => RecordFile.Read<SearchResult>(Path.Combine(jobDirectory, SearchStage.ArchitecturesFile));
    public void Write(string path) => RecordFile.Write(path, this);
}

/// <summary>The parent at scenario.batch as its blocks add up (<paramref name="PredictedTimeS"/>) and as measured whole,
/// and the same at the other batch sizes; <see cref="SizeCurveK"/>: the size curve's K that every predicted time and
/// speedup went through (0: whole time proportional to summed blocks).</summary>
public sealed record ParentPrediction(double PredictedTimeS, double MeasuredTimeS, double AdditiveModelError, double MemoryBytes, double Params)
{
    public double SizeCurveK { get; init; }
    public IReadOnlyDictionary<string, ParentAtBatch>? Batches { get; init; }
}

public sealed record ParentAtBatch(double PredictedTimeS, double MeasuredTimeS, double MemoryBytes);

/// <summary>
/// One architecture the search chose (a child, or a baseline), as Heal builds it: its summed score, its predicted cost,
/// each layer's library variants, and block_configs ready for export. A baseline that could not be chosen has only
/// <see cref="Skipped"/>.
/// </summary>
public sealed record ChosenArchitecture
{
    public string? Skipped { get; init; }
    public double Score { get; init; }
    public string? Metric { get; init; }
    public PredictedCost? Predicted { get; init; }
    public IReadOnlyList<LayerChoice> Layers { get; init; } = [];
    public JsonNode? BlockConfigs { get; init; }
    /// <summary>The child's rank among the search's solutions (1: best); null for a baseline.</summary>
    public int? Rank { get; init; }
    public bool? Optimal { get; init; }
}

/// <summary>The cost model's prediction at scenario.batch, and at the other batch sizes searched.</summary>
public sealed record PredictedCost(double TimeS, double Speedup, double MemoryBytes, double Params)
{
    public IReadOnlyDictionary<string, BatchPrediction>? Batches { get; init; }
}

public sealed record BatchPrediction(double TimeS, double Speedup, double MemoryBytes);
