using System.Globalization;

namespace Puzzle.Engine.Reporting;

/// <summary>How report.html and the console table write the report's numbers.</summary>
internal static class ReportFormat
{
    /// <summary>A share as a percentage with one decimal (<paramref name="none"/> where there is no value).</summary>
    public static string P(double? v, string none = "") => v is null ? none : v.Value.ToString("P1", CultureInfo.InvariantCulture);

    /// <summary>A number in <paramref name="format"/>, or "-" where there is none.</summary>
    public static string F(double? v, string format) => v is null ? "-" : v.Value.ToString(format, CultureInfo.InvariantCulture);
}
