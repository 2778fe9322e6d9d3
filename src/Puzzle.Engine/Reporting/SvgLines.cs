using System.Globalization;
using System.Security;
using System.Text;

namespace Puzzle.Engine.Reporting;

/// <summary>Several named lines on one chart, as a standalone SVG (no scripts, fonts or links): loss curves.</summary>
public static class SvgLines
{
    const double Width = 700, Height = 360, Left = 70, Right = 200, Top = 20, Bottom = 50;
    static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    /// <param name="logY">plot log10 of y (losses spanning decades)</param>
    /// <param name="legend">label at most this many series in the legend (the rest are drawn thin and grey)</param>
    public static string Render(IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> series, string xLabel, string yLabel,
        bool logY = false, int legend = 10)
    {
        var drawn = series.Where(s => s.Points.Count > 0).ToList();
        double Y(double y) => logY ? Math.Log10(Math.Max(y, 1e-12)) : y;
        var xs = drawn.SelectMany(s => s.Points.Select(p => p.X)).DefaultIfEmpty(0).ToList();
        var ys = drawn.SelectMany(s => s.Points.Select(p => Y(p.Y))).DefaultIfEmpty(0).ToList();
        double x0 = xs.Min(), x1 = Math.Max(xs.Max(), x0 + 1e-9), y0 = ys.Min(), y1 = Math.Max(ys.Max(), y0 + 1e-9);
        double Px(double x) => Left + (x - x0) / (x1 - x0) * (Width - Left - Right);
        double Py(double y) => Height - Bottom - (Y(y) - y0) / (y1 - y0) * (Height - Top - Bottom);
        var svg = new StringBuilder();
        svg.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{N(Width)}\" height=\"{N(Height)}\" viewBox=\"0 0 {N(Width)} {N(Height)}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.AppendLine($"  <rect width=\"{N(Width)}\" height=\"{N(Height)}\" fill=\"white\"/>");
        svg.AppendLine($"  <g stroke=\"black\"><line x1=\"{N(Left)}\" y1=\"{N(Height - Bottom)}\" x2=\"{N(Width - Right)}\" y2=\"{N(Height - Bottom)}\"/><line x1=\"{N(Left)}\" y1=\"{N(Top)}\" x2=\"{N(Left)}\" y2=\"{N(Height - Bottom)}\"/></g>");
        for (var i = 0; i <= 4; i++)
        {
            var xv = x0 + (x1 - x0) * i / 4;
            var yv = y0 + (y1 - y0) * i / 4;
            svg.AppendLine($"  <text x=\"{N(Px(xv))}\" y=\"{N(Height - Bottom + 16)}\" text-anchor=\"middle\">{T(xv)}</text>");
            var yLabelValue = logY ? Math.Pow(10, yv) : yv;
            svg.AppendLine($"  <text x=\"{N(Left - 6)}\" y=\"{N(Height - Bottom - (yv - y0) / (y1 - y0) * (Height - Top - Bottom) + 4)}\" text-anchor=\"end\">{T(yLabelValue)}</text>");
        }
        svg.AppendLine($"  <text x=\"{N((Left + Width - Right) / 2)}\" y=\"{N(Height - 12)}\" text-anchor=\"middle\">{E(xLabel)}</text>");
        svg.AppendLine($"  <text transform=\"translate(14 {N((Top + Height - Bottom) / 2)}) rotate(-90)\" text-anchor=\"middle\">{E(yLabel + (logY ? " (log scale)" : ""))}</text>");
        for (var i = 0; i < drawn.Count; i++)
        {
            var (name, points) = drawn[i];
            var labelled = i < legend;
            var colour = labelled ? Palette[i % Palette.Length] : "#bbbbbb";
            svg.AppendLine($"  <polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{(labelled ? 1.8 : 0.8).ToString(CultureInfo.InvariantCulture)}\" points=\"{string.Join(" ", points.Select(p => $"{N(Px(p.X))},{N(Py(p.Y))}"))}\"><title>{E(name)}</title></polyline>");
            if (labelled)
                svg.AppendLine($"  <g><line x1=\"{N(Width - Right + 10)}\" y1=\"{N(Top + 8 + 16 * i)}\" x2=\"{N(Width - Right + 28)}\" y2=\"{N(Top + 8 + 16 * i)}\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{N(Width - Right + 32)}\" y=\"{N(Top + 12 + 16 * i)}\">{E(name)}</text></g>");
        }
        if (drawn.Count > legend)
            svg.AppendLine($"  <text x=\"{N(Width - Right + 10)}\" y=\"{N(Top + 12 + 16 * legend)}\" fill=\"gray\">+{drawn.Count - legend} more (grey)</text>");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    static string N(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
    static string T(double v) => Math.Abs(v) switch
    {
        >= 1e6 => (v / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (v / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + "k",
        _ => v.ToString("G3", CultureInfo.InvariantCulture),
    };
    static string E(string s) => SecurityElement.Escape(s) ?? "";
}
