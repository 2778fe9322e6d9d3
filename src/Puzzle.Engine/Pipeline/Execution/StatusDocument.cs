#nullable enable
// Part of the front-end contract: #loaded by build/puzzle.cake, so base library only; a Cake script cannot declare a
// namespace, hence the #if.
#if !CAKE
namespace Puzzle.Engine.Pipeline.Execution;
#endif

/// <summary>
/// What <c>puzzle status PIPELINE --json</c> prints: every job the target needs (every job of the pipeline when
/// <see cref="Target"/> is null, or the one job asked for), inputs before readers, with its state in the store and why.
/// </summary>
public sealed record StatusDocument(string Pipeline, string? Target, IReadOnlyList<JobStatus> Jobs)
{
    public string ToJson() => System.Text.Json.JsonSerializer.Serialize(this, PuzzleJson.Options);

    /// <param name="source">where the JSON came from, for the error when it is not a status document</param>
    public static StatusDocument Parse(string json, string source = "puzzle status --json") => PuzzleJson.Read<StatusDocument>(json, source);
}
#nullable restore
