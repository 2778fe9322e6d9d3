using System.Reflection;
using System.Text;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>YAML spellings of C# names, and "did you mean" suggestions for misspelt ones.</summary>
internal static class SpecNames
{
    /// <summary>PascalCase to snake_case: KvHeads → kv_heads, TimeLimitS → time_limit_s, Float32 → float32.</summary>
    public static string Snake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (var i = 0; i < pascal.Length; i++)
        {
            var c = pascal[i];
            if (char.IsUpper(c) && i > 0 && (char.IsLower(pascal[i - 1]) || char.IsDigit(pascal[i - 1]))) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>The YAML spelling of an enum value: its [SpecName], else snake_case of its C# name.</summary>
    public static string Of(Enum value)
    {
        var name = value.ToString();
        var field = value.GetType().GetField(name, BindingFlags.Public | BindingFlags.Static);
        return field?.GetCustomAttribute<SpecNameAttribute>()?.Name ?? Snake(name);
    }

    /// <summary>The YAML spellings of every value of <paramref name="enumType"/>, in declaration order.</summary>
    public static IReadOnlyList<(string Name, Enum Value)> Values(Type enumType) =>
        Enum.GetValues(enumType).Cast<Enum>().Select(v => (Of(v), v)).ToList();

    /// <summary>
    /// The spellings an enum value is accepted in: its canonical name and, where that has an underscore, the same
    /// with hyphens (nemotron_nas and nemotron-nas).
    /// </summary>
    public static IEnumerable<string> Accepted(string canonical) =>
        canonical.Contains('_') ? [canonical, canonical.Replace('_', '-')] : [canonical];

    /// <summary>The closest of <paramref name="candidates"/> to a misspelt <paramref name="word"/>, if any is close.</summary>
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
