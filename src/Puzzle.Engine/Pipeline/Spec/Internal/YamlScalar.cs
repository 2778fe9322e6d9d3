using System.Globalization;
using System.Text.RegularExpressions;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// A YAML scalar. Plain scalars are typed by the YAML 1.2 core schema (null, true/false, integers, floats), with
/// one extension: underscores between digits (<c>2_000_000</c>). Quoted scalars are always strings.
/// </summary>
internal sealed partial record YamlScalar(SourcePosition Start, string Value, bool Plain) : YamlNode(Start)
{
    public bool IsNull => Plain && Value is "" or "~" or "null" or "Null" or "NULL";

    public bool? AsBool => !Plain ? null : Value switch
    {
        "true" or "True" or "TRUE" => true,
        "false" or "False" or "FALSE" => false,
        _ => null,
    };

    /// <summary>The scalar as a number, when it is a plain integer or float.</summary>
    public double? AsNumber =>
        Plain && (IntegerText().IsMatch(Value) || FloatText().IsMatch(Value))
            ? double.Parse(Value.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture)
            : null;

    /// <summary>The scalar as an integer: a plain integer, or a float with no fractional part (2e6).</summary>
    public long? AsInteger
    {
        get
        {
            if (Plain && IntegerText().IsMatch(Value))
                return long.TryParse(Value.Replace("_", ""), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) ? l : null;
            return AsNumber is { } d && Math.Floor(d) == d && Math.Abs(d) < 9.2e18 ? (long)d : null;
        }
    }

    /// <summary>Whether the scalar is written as a plain integer, whatever its size.</summary>
    public bool IsIntegerText => Plain && IntegerText().IsMatch(Value);

    public override string Describe()
    {
        if (IsNull) return "null";
        if (AsBool is { } b) return b ? "the boolean true" : "the boolean false";
        if (Plain && IntegerText().IsMatch(Value)) return $"the integer {Value}";
        if (AsNumber is not null) return $"the number {Value}";
        return $"the string '{Value}'";
    }

    [GeneratedRegex(@"^[-+]?[0-9](_?[0-9])*$")]
    private static partial Regex IntegerText();

    [GeneratedRegex(@"^[-+]?([0-9](_?[0-9])*(\.([0-9](_?[0-9])*)?)?|\.[0-9](_?[0-9])*)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatText();
}
