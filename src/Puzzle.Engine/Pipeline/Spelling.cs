#nullable enable
// "Did you mean" for a misspelt name: spec keys and values, stage and job names, and Cake's script arguments. #loaded
// by build/puzzle.cake (its unknown-argument error), so base library only; a Cake script cannot declare a namespace,
// hence the #if.
#if !CAKE
namespace Puzzle.Engine.Pipeline;
#endif

/// <summary>The closest of a list of names to a misspelt one.</summary>
internal static class Spelling
{
    /// <summary>The closest of <paramref name="candidates"/> (lower case) to a misspelt <paramref name="word"/>, if any is close.</summary>
    public static string? Suggest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            var d = Distance(word.ToLowerInvariant(), c);
            // Within two edits (fewer for very short words, where two edits turn anything into anything), or a prefix.
            var close = d <= Math.Min(2, word.Length - 1)
                || (word.Length >= 2 && (c.StartsWith(word, StringComparison.OrdinalIgnoreCase) || word.StartsWith(c, StringComparison.OrdinalIgnoreCase)));
            if (close && d < bestDistance) (best, bestDistance) = (c, d);
        }
        return best;
    }

    /// <summary>Optimal string alignment distance: Levenshtein with adjacent transpositions.</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
#nullable restore
