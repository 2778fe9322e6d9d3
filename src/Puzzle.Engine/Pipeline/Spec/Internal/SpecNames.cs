using System.Reflection;
using System.Text;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>YAML spellings of C# names (the "did you mean" for misspelt ones is <see cref="Spelling"/>).</summary>
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
}
