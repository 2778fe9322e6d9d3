namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// The numeric range a spec field (or, on a list, each of its items) must lie in. The names are JSON Schema's, so
/// the loader's check and the generated schema read the same numbers. Unset bounds are NaN.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class BoundsAttribute : Attribute
{
    public double Minimum { get; init; } = double.NaN;
    public double Maximum { get; init; } = double.NaN;
    public double ExclusiveMinimum { get; init; } = double.NaN;
    public double ExclusiveMaximum { get; init; } = double.NaN;

    /// <summary>Why <paramref name="value"/> is out of range ("must be at most 0.5"), or null when it is in range.</summary>
    public string? Violation(double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value)) return "must be a finite number";
        if (!double.IsNaN(Minimum) && value < Minimum) return $"must be at least {Format(Minimum)}";
        if (!double.IsNaN(ExclusiveMinimum) && value <= ExclusiveMinimum) return $"must be greater than {Format(ExclusiveMinimum)}";
        if (!double.IsNaN(Maximum) && value > Maximum) return $"must be at most {Format(Maximum)}";
        if (!double.IsNaN(ExclusiveMaximum) && value >= ExclusiveMaximum) return $"must be less than {Format(ExclusiveMaximum)}";
        return null;
    }

    static string Format(double x) => x.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
