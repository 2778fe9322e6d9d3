namespace Puzzle.Engine.Search;

/// <summary>One MIP solve: the selection (null when none), whether it is proven optimal, whether time ran out.</summary>
internal sealed record MipResult(Selection? Selection, bool Optimal, bool TimedOut);
