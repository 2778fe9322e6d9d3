namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// A regular expression (JSON Schema's <c>pattern</c>, anchored) a string field or each string item must match;
/// <see cref="Hint"/> tells the user what a valid value looks like.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PatternAttribute(string regex) : Attribute
{
    public string Regex { get; } = regex;
    public string Hint { get; init; } = "";

    public bool IsMatch(string value) =>
        System.Text.RegularExpressions.Regex.IsMatch(value, Regex, System.Text.RegularExpressions.RegexOptions.CultureInvariant);
}
