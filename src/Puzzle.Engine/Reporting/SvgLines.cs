using System.Globalization;
using System.Security;
using System.Text;

namespace Puzzle.Engine.Reporting;

/// <summary>Several named lines on one chart, as a standalone SVG (no scripts, fonts or links): loss curves.</summary>
public static class SvgLines
{
    const double Height = 340, Left = 64, Top = 20, Bottom = 50;
    /// <summary>Twenty colours in pairs of a strong and a light shade (Tableau's 20), so a panel's lines stay distinct.</summary>
    static readonly string[] Palette =
    [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
        "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
    ];

    /// <param name="logY">plot y on a log scale (losses spanning decades), ticks at 1, 2 and 5 × 10^k</param>
    /// <param name="legend">label at most this many series in the legend (the rest are drawn thin and grey)</param>
    /// <param name="width">the chart's width; the legend takes the right 190 px</param>
    public static string Render(IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> series, string xLabel, string yLabel,
        bool logY = false, int legend = 20, double width = 700)
    {
        const double right = 190;
        var drawn = series.Where(s => s.Points.Count > 0).ToList();
        double Y(double y) => logY ? Math.Log10(Math.Max(y, 1e-12)) : y;
        var xs = drawn.SelectMany(s => s.Points.Select(p => p.X)).DefaultIfEmpty(0).ToList();
        var (x0, x1, xTicks) = Ticks.Linear(xs.Min(), xs.Max());
        var ysRaw = drawn.SelectMany(s => s.Points.Select(p => Math.Max(p.Y, logY ? 1e-12 : double.MinValue))).DefaultIfEmpty(logY ? 1 : 0).ToList();
        var (yLow, yHigh, yTicks) = logY ? Ticks.Log(ysRaw.Min(), ysRaw.Max()) : Ticks.Linear(ysRaw.Min(), ysRaw.Max());
        double y0 = Y(yLow), y1 = Math.Max(Y(yHigh), y0 + 1e-9);
        double Px(double x) => Left + (x - x0) / (x1 - x0) * (width - Left - right);
        double Py(double y) => Height - Bottom - (Y(y) - y0) / (y1 - y0) * (Height - Top - Bottom);
        var svg = new StringBuilder();
        svg.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{N(width)}\" height=\"{N(Height)}\" viewBox=\"0 0 {N(width)} {N(Height)}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.AppendLine($"  <rect width=\"{N(width)}\" height=\"{N(Height)}\" fill=\"white\"/>");
        foreach (var t in yTicks)
            svg.AppendLine($"  <g><line x1=\"{N(Left)}\" y1=\"{N(Py(t))}\" x2=\"{N(width - right)}\" y2=\"{N(Py(t))}\" stroke=\"#eee\"/>" +
                           $"<text x=\"{N(Left - 6)}\" y=\"{N(Py(t) + 4)}\" text-anchor=\"end\">{Ticks.Label(t)}</text></g>");
        foreach (var t in xTicks)
            svg.AppendLine($"  <g><line x1=\"{N(Px(t))}\" y1=\"{N(Height - Bottom)}\" x2=\"{N(Px(t))}\" y2=\"{N(Height - Bottom + 4)}\" stroke=\"black\"/>" +
                           $"<text x=\"{N(Px(t))}\" y=\"{N(Height - Bottom + 16)}\" text-anchor=\"middle\">{Ticks.Label(t)}</text></g>");
        svg.AppendLine($"  <g stroke=\"black\"><line x1=\"{N(Left)}\" y1=\"{N(Height - Bottom)}\" x2=\"{N(width - right)}\" y2=\"{N(Height - Bottom)}\"/><line x1=\"{N(Left)}\" y1=\"{N(Top)}\" x2=\"{N(Left)}\" y2=\"{N(Height - Bottom)}\"/></g>");
        svg.AppendLine($"  <text x=\"{N((Left + width - right) / 2)}\" y=\"{N(Height - 12)}\" text-anchor=\"middle\">{E(xLabel)}</text>");
        svg.AppendLine($"  <text transform=\"translate(14 {N((Top + Height - Bottom) / 2)}) rotate(-90)\" text-anchor=\"middle\">{E(yLabel + (logY ? " (log scale)" : ""))}</text>");
        for (var i = 0; i < drawn.Count; i++)
        {
            var (name, points) = drawn[i];
            var labelled = i < Math.Min(legend, Palette.Length);
            var colour = labelled ? Palette[i] : "#bbbbbb";
            svg.AppendLine($"  <polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{(labelled ? 1.8 : 0.8).ToString(CultureInfo.InvariantCulture)}\" points=\"{string.Join(" ", points.Select(p => $"{N(Px(p.X))},{N(Py(p.Y))}"))}\"><title>{E(name)}</title></polyline>");
            if (labelled)
                svg.AppendLine($"  <g><line x1=\"{N(width - right + 10)}\" y1=\"{N(Top + 8 + 15 * i)}\" x2=\"{N(width - right + 28)}\" y2=\"{N(Top + 8 + 15 * i)}\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{N(width - right + 32)}\" y=\"{N(Top + 12 + 15 * i)}\">{E(name)}</text></g>");
        }
        var shown = Math.Min(legend, Palette.Length);
        if (drawn.Count > shown)
            svg.AppendLine($"  <text x=\"{N(width - right + 10)}\" y=\"{N(Top + 12 + 15 * shown)}\" fill=\"gray\">+{drawn.Count - shown} more (grey)</text>");
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    static string N(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
    static string E(string s) => SecurityElement.Escape(s) ?? "";
}
