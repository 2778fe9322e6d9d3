using System.Globalization;
using System.Security;
using System.Text;

namespace Puzzle.Engine.Search;

/// <summary>A line-and-points plot as a standalone SVG document (no scripts, fonts or links).</summary>
internal static class SvgPlot
{
    const double Width = 560, Height = 360, Left = 80, Right = 20, Top = 30, Bottom = 60;

    /// <param name="marks">labelled points drawn over the line (e.g. the chosen children and the baselines on a Pareto front)</param>
    public static string Render(IReadOnlyList<(double X, double Y)> points, string xLabel, string yLabel, string note,
        IReadOnlyList<(string Label, double X, double Y)>? marks = null)
    {
        var sorted = points.OrderBy(p => p.X).ToList();
        marks ??= [];
        var (x0, x1, xTicks) = Axis(sorted.Select(p => p.X).Concat(marks.Select(m => m.X)));
        var (y0, y1, yTicks) = Axis(sorted.Select(p => p.Y).Concat(marks.Select(m => m.Y)));
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
        // children as diamonds, baselines as squares, each in its own colour and named in a legend at the top left:
        // labels beside the marks collide, since the models of one run sit close together
        string[] colours = ["#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];
        for (var i = 0; i < marks.Count; i++)
        {
            var (label, x, y) = marks[i];
            var colour = colours[i % colours.Length];
            var title = $"<title>{E(label)}: {T(x)}x, {T(y)}</title>";
            svg.AppendLine($"  {Shape(label, Px(x), Py(y), colour, "mark")[..^2]}>{title}</{(Child(label) ? "path" : "rect")}>");
            var (lx, ly) = (Left + 14, Top + 10 + 15 * i);
            svg.AppendLine($"  <g>{Shape(label, lx, ly, colour, "key")}<text x=\"{N(lx + 10)}\" y=\"{N(ly + 4)}\">{E(label)}</text></g>");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    static bool Child(string label) => label.StartsWith("child", StringComparison.Ordinal);

    /// <summary>A self-closed diamond (a child) or square (a baseline) centred on (x, y).</summary>
    static string Shape(string label, double x, double y, string colour, string css) => Child(label)
        ? $"<path class=\"{css}\" d=\"M{N(x)},{N(y - 6)} L{N(x + 6)},{N(y)} L{N(x)},{N(y + 6)} L{N(x - 6)},{N(y)} Z\" fill=\"{colour}\" stroke=\"white\"/>"
        : $"<rect class=\"{css}\" x=\"{N(x - 4.5)}\" y=\"{N(y - 4.5)}\" width=\"9\" height=\"9\" fill=\"{colour}\" stroke=\"white\"/>";

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
