namespace Puzzle.Engine.Search;

/// <summary>
/// No architecture meets the limits. <see cref="Unmet"/> lists, per limit to blame, the best total its resource can
/// reach (under the other limits, or even alone); the message says the same in words.
/// </summary>
public sealed class SearchInfeasibleException(string message, IReadOnlyList<UnmetLimit> unmet) : Exception(message)
{
    public IReadOnlyList<UnmetLimit> Unmet { get; } = unmet;
}
