using System.Globalization;
using System.Security;
using System.Text;

namespace Puzzle.Engine.Reporting;

/// <summary>
/// Every chart of the product as a standalone SVG document (no scripts, fonts or links): named lines with a legend on
/// the right, optionally a dot at each point (filled, or hollow where <see cref="Series.Hollow"/> says), a log y axis,
/// and labelled marks (children as diamonds, baselines as squares). Loss curves, the Pareto front and the
/// quality-against-speed curves all use it.
/// </summary>
public static class SvgChart
{
    const double Height = 340, Left = 64, Top = 20, Bottom = 50, LegendWidth = 190;
    /// <summary>Twenty colours in pairs of a strong and a light shade (Tableau's 20), so a panel's lines stay distinct.</summary>
    static readonly string[] Palette =
    [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
        "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
    ];
    static readonly string[] MarkColours = ["#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

    /// <summary>One named line, drawn through its points in the order given.</summary>
    public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points)
    {
        /// <summary>A dot at each point, its value in a tooltip.</summary>
        public bool Dots { get; init; }
        /// <summary>Per point, whether its dot is hollow (for points of another kind, e.g. not healed); null: all filled.</summary>
        public IReadOnlyList<bool>? Hollow { get; init; }
    }

    /// <summary>A labelled point over the lines: a diamond when <paramref name="Diamond"/> (a child), else a square.</summary>
    public sealed record Mark(string Label, double X, double Y, bool Diamond);

    /// <param name="logY">plot y on a log scale (losses spanning decades), ticks at 1, 2 and 5 × 10^k</param>
    /// <param name="legend">label at most this many series in the legend (the rest are drawn thin and grey)</param>
    /// <param name="width">the chart's width; the legend takes the right 190 px</param>
    /// <param name="note">a small grey line under the x axis</param>
    /// <param name="marks">labelled points drawn over the lines, each in its own colour and named in the legend</param>
    public static string Render(IReadOnlyList<Series> series, string xLabel, string yLabel, bool logY = false, int legend = 20,
        double width = 700, string? note = null, IReadOnlyList<Mark>? marks = null)
    {
        marks ??= [];
        var right = LegendWidth;
        var drawn = series.Where(s => s.Points.Count > 0).ToList();
        double Y(double y) => logY ? Math.Log10(Math.Max(y, 1e-12)) : y;
        var xs = drawn.SelectMany(s => s.Points.Select(p => p.X)).Concat(marks.Select(m => m.X)).DefaultIfEmpty(0).ToList();
        var (x0, x1, xTicks) = Ticks.Linear(xs.Min(), xs.Max());
        var ysRaw = drawn.SelectMany(s => s.Points.Select(p => p.Y)).Concat(marks.Select(m => m.Y))
            .Select(y => logY ? Math.Max(y, 1e-12) : y).DefaultIfEmpty(logY ? 1 : 0).ToList();
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
        svg.AppendLine($"  <text x=\"{N((Left + width - right) / 2)}\" y=\"{N(Height - 22)}\" text-anchor=\"middle\">{E(xLabel)}</text>");
        svg.AppendLine($"  <text transform=\"translate(14 {N((Top + Height - Bottom) / 2)}) rotate(-90)\" text-anchor=\"middle\">{E(yLabel + (logY ? " (log scale)" : ""))}</text>");
        if (note is not null)
            svg.AppendLine($"  <text x=\"{N(width - right)}\" y=\"{N(Height - 6)}\" text-anchor=\"end\" fill=\"gray\" font-size=\"10\">{E(note)}</text>");
        var shown = Math.Min(legend, Palette.Length);
        var row = 0;
        for (var i = 0; i < drawn.Count; i++)
        {
            var s = drawn[i];
            var labelled = i < shown;
            var colour = labelled ? Palette[i] : "#bbbbbb";
            svg.AppendLine($"  <polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{(labelled ? 1.8 : 0.8).ToString(CultureInfo.InvariantCulture)}\" points=\"{string.Join(" ", s.Points.Select(p => $"{N(Px(p.X))},{N(Py(p.Y))}"))}\"><title>{E(s.Name)}</title></polyline>");
            if (s.Dots)
                for (var k = 0; k < s.Points.Count; k++)
                {
                    var (x, y) = s.Points[k];
                    var hollow = s.Hollow is { } h && k < h.Count && h[k];
                    svg.AppendLine($"  <circle class=\"point\" cx=\"{N(Px(x))}\" cy=\"{N(Py(y))}\" r=\"4\" fill=\"{(hollow ? "white" : colour)}\" stroke=\"{colour}\" stroke-width=\"1.5\"><title>{E(s.Name)}: {T(x)}, {T(y)}</title></circle>");
                }
            if (labelled)
                svg.AppendLine($"  <g><line x1=\"{N(width - right + 10)}\" y1=\"{N(Top + 8 + 15 * row)}\" x2=\"{N(width - right + 28)}\" y2=\"{N(Top + 8 + 15 * row)}\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{N(width - right + 32)}\" y=\"{N(Top + 12 + 15 * row++)}\">{E(s.Name)}</text></g>");
        }
        if (drawn.Count > shown)
            svg.AppendLine($"  <text x=\"{N(width - right + 10)}\" y=\"{N(Top + 12 + 15 * row++)}\" fill=\"gray\">+{drawn.Count - shown} more (grey)</text>");
        // marks in the legend, not beside themselves: the models of one run sit close together and their labels collide
        for (var i = 0; i < marks.Count; i++)
        {
            var (label, x, y, diamond) = marks[i];
            var colour = MarkColours[i % MarkColours.Length];
            svg.AppendLine($"  {Shape(diamond, Px(x), Py(y), colour, "mark")[..^2]}><title>{E(label)}: {T(x)}, {T(y)}</title></{(diamond ? "path" : "rect")}>");
            var (lx, ly) = (width - right + 19, Top + 8 + 15 * row++);
            svg.AppendLine($"  <g>{Shape(diamond, lx, ly, colour, "key")}<text x=\"{N(lx + 13)}\" y=\"{N(ly + 4)}\">{E(label)}</text></g>");
        }
        svg.AppendLine("</svg>");
        return svg.ToString();
    }

    /// <summary>An SVG document without its XML prolog, to sit inside a page.</summary>
    public static string Inline(string svg) => svg.StartsWith("<?xml", StringComparison.Ordinal) ? svg[(svg.IndexOf("?>", StringComparison.Ordinal) + 2)..] : svg;

    /// <summary>A self-closed diamond or square centred on (x, y).</summary>
    static string Shape(bool diamond, double x, double y, string colour, string css) => diamond
        ? $"<path class=\"{css}\" d=\"M{N(x)},{N(y - 6)} L{N(x + 6)},{N(y)} L{N(x)},{N(y + 6)} L{N(x - 6)},{N(y)} Z\" fill=\"{colour}\" stroke=\"white\"/>"
        : $"<rect class=\"{css}\" x=\"{N(x - 4.5)}\" y=\"{N(y - 4.5)}\" width=\"9\" height=\"9\" fill=\"{colour}\" stroke=\"white\"/>";

    static string N(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
    static string T(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
    static string E(string s) => SecurityElement.Escape(s) ?? "";
}
