using System.Text.RegularExpressions;

namespace Puzzle.Engine.Data;

/// <summary>Orders "chapter_2" before "chapter_10": runs of digits compare as numbers.</summary>
public sealed partial class NaturalOrder : IComparer<string>
{
    public static readonly NaturalOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        var a = Parts().Split(x ?? "");
        var b = Parts().Split(y ?? "");
        for (var i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            var c = long.TryParse(a[i], out var na) && long.TryParse(b[i], out var nb) ? na.CompareTo(nb) : string.CompareOrdinal(a[i], b[i]);
            if (c != 0) return c;
        }
        return a.Length.CompareTo(b.Length);
    }

    [GeneratedRegex(@"(\d+)")]
    private static partial Regex Parts();
}
