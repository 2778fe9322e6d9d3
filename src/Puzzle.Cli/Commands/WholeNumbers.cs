using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Puzzle.Cli.Commands;

/// <summary>Options that take a whole number.</summary>
internal static class WholeNumbers
{
    /// <summary>
    /// A value that is not a whole number is an error naming the option, what it takes and what it got
    /// (<c>--jobs takes a whole number, got 'abc'</c>), where System.CommandLine names the .NET type it converts to
    /// (<c>as expected type 'System.Nullable`1[System.Int32]'</c>).
    /// </summary>
    public static Option<int?> Whole(this Option<int?> option)
    {
        option.CustomParser = result => Parse(option.Name, result);
        return option;
    }

    /// <inheritdoc cref="Whole(Option{int?})"/>
    public static Option<int> Whole(this Option<int> option)
    {
        var fallback = option.DefaultValueFactory;
        option.CustomParser = result => result.Tokens.Count == 0 && fallback is not null ? fallback(result) : Parse(option.Name, result) ?? 0;
        return option;
    }

    static int? Parse(string name, ArgumentResult result)
    {
        if (result.Tokens.Count == 0) return null;
        var text = result.Tokens[^1].Value;
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)) return value;
        result.AddError($"{name} takes a whole number, got '{text}'");
        return null;
    }
}
