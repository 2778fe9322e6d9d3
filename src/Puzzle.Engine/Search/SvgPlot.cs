using System.Globalization;
using System.Security;
using System.Text;

namespace Puzzle.Engine.Search;

/// <summary>A line-and-points plot as a standalone SVG document (no scripts, fonts or links).</summary>
internal static class SvgPlot
{
    const double Width = 560, Height = 360, Left = 80, Right = 20, Top = 30, Bottom = 60;

    public static string Render(IReadOnlyList<(double X, double Y)> points, string xLabel, string yLabel, string note)
    {
        var sorted = points.OrderBy(p => p.X).ToList();
        var (x0, x1, xTicks) = Axis(sorted.Select(p => p.X));
        var (y0, y1, yTicks) = Axis(sorted.Select(p => p.Y));
        double Px(double x) => Left + (x - x0) / (x1 - x0) * (Width - Left - Right);
        double Py(double y) => Height - Bottom - (y - y0) / (y1 - y0) * (Height - Top - Bottom);

        var svg = new StringBuilder();
        svg.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{N(Width)}\" height=\"{N(Height)}\" viewBox=\"0 0 {N(Width)} {N(Height)}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine($"  <rect width=\"{N(Width)}\" height=\"{N(Height)}\" fill=\"white\"/>");
        svg.AppendLine($"  <g stroke=\"black\"><line x1=\"{N(Left)}\" y1=\"{N(Height - Bottom)}\" x2=\"{N(Width - Right)}\" y2=\"{N(Height - Bottom)}\"/><line x1=\"{N(Left)}\" y1=\"{N(Top)}\" x2=\"{N(Left)}\" y2=\"{N(Height - Bottom)}\"/></g>");
        foreach (var t in xTicks)
            svg.AppendLine($"  <g><line x1=\"{N(Px(t))}\" y1=\"{N(Height - Bottom)}\" x2=\"{N(Px(t))}\" y2=\"{N(Height - Bottom + 5)}\" stroke=\"black\"/><text x=\"{N(Px(t))}\" y=\"{N(Height - Bottom + 18)}\" text-anchor=\"middle\">{T(t)}</text></g>");
        foreach (var t in yTicks)
            svg.AppendLine($"  <g><line x1=\"{N(Left - 5)}\" y1=\"{N(Py(t))}\" x2=\"{N(Left)}\" y2=\"{N(Py(t))}\" stroke=\"black\"/><text x=\"{N(Left - 8)}\" y=\"{N(Py(t) + 4)}\" text-anchor=\"end\">{T(t)}</text></g>");
        svg.AppendLine($"  <text x=\"{N((Left + Width - Right) / 2)}\" y=\"{N(Height - 22)}\" text-anchor=\"middle\">{E(xLabel)}</text>");
        svg.AppendLine($"  <text transform=\"translate(16 {N((Top + Height - Bottom) / 2)}) rotate(-90)\" text-anchor=\"middle\">{E(yLabel)}</text>");
        svg.AppendLine($"  <text x=\"{N(Width - Right)}\" y=\"{N(Height - 6)}\" text-anchor=\"end\" fill=\"gray\" font-size=\"10\">{E(note)}</text>");
        if (sorted.Count > 1)
            svg.AppendLine($"  <polyline fill=\"none\" stroke=\"steelblue\" stroke-width=\"2\" points=\"{string.Join(" ", sorted.Select(p => $"{N(Px(p.X))},{N(Py(p.Y))}"))}\"/>");
        foreach (var p in sorted)
            svg.AppendLine($"  <circle class=\"point\" cx=\"{N(Px(p.X))}\" cy=\"{N(Py(p.Y))}\" r=\"4\" fill=\"steelblue\"><title>{T(p.X)}: {T(p.Y)}</title></circle>");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    /// <summary>A range covering the values, widened to round tick steps (1, 2 or 5 × 10^k), and its ticks.</summary>
    static (double Min, double Max, List<double> Ticks) Axis(IEnumerable<double> values)
    {
        var v = values.ToList();
        double lo = v.Count > 0 ? v.Min() : 0, hi = v.Count > 0 ? v.Max() : 1;
        if (hi - lo <= Math.Abs(hi) * 1e-12) { var pad = Math.Abs(hi) > 0 ? Math.Abs(hi) * 0.1 : 1; lo -= pad; hi += pad; }
        var raw = (hi - lo) / 5;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        var min = Math.Floor(lo / step) * step;
        var max = Math.Ceiling(hi / step) * step;
        var ticks = new List<double>();
        for (var i = 0; min + i * step <= max + step * 1e-9; i++) ticks.Add(Math.Round((min + i * step) / step) * step);
        return (min, max, ticks);
    }

    static string N(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
    static string T(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
    static string E(string s) => SecurityElement.Escape(s) ?? "";
}
