using System.Globalization;

namespace Puzzle.Engine.Search;

/// <summary>
/// A limit no architecture meets: the lowest total of its resource reachable, either under the other limits
/// (<see cref="EvenAlone"/> false) or with no other limit at all (<see cref="EvenAlone"/> true).
/// </summary>
public sealed record UnmetLimit(string Label, string Resource, double Limit, double BestReachable, bool EvenAlone)
{
    internal static string Format(double value) => value.ToString("G4", CultureInfo.InvariantCulture);

    internal string Describe(ResourceLimit limit)
    {
        var numbers = $"{Resource} {Format(BestReachable)} > limit {Format(Limit)}";
        var best = limit.Describe is { } describe ? $"{describe(BestReachable)} ({numbers})" : numbers;
        return EvenAlone
            ? $"no architecture meets \"{Label}\" even on its own: the best reaches {best}"
            : $"no architecture meets \"{Label}\" together with the other limits: the best under them reaches {best}";
    }
}
