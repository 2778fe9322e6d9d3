using System.CommandLine;
using System.Diagnostics;
using Puzzle.Engine.Export;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Reporting;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle report PIPELINE [--open] [--json]</c>: prints the pipeline's report table, or opens report.html.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var spec = PipelineOptions.Spec();
        var open = new Option<bool>("--open") { Description = "open report.html in the desktop's browser (prints its path where there is none)" };
        var json = new Option<bool>("--json") { Description = "print report.json" };
        var command = new Command("report", "Print the report of a pipeline's last run (artifacts/<pipeline>/report.json), or open report.html")
            { spec, open, json };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(spec)!;
            var loaded = PipelineOptions.Load(file);
            var folder = Path.Combine(loaded.BaseDirectory, "artifacts", loaded.Name);
            var reportJson = Path.Combine(folder, ReportStage.JsonFile);
            if (!File.Exists(reportJson))
                throw new FileNotFoundException($"{reportJson}: no report yet; run `puzzle run {file} --target Report` first");
            var html = Path.Combine(folder, ReportStage.HtmlFile);
            var report = PipelineReport.Read(reportJson);
            // on standard error, so that --json prints report.json alone
            if (NotItsOwn(report, loaded, file.ToString()) is { } note) Console.Error.WriteLine(note);
            if (parse.GetValue(json))
            {
                Console.WriteLine(File.ReadAllText(reportJson));
                return 0;
            }
            Console.Write(ReportTable.Render(report));
            if (parse.GetValue(open)) Open(html, Console.Out, Environment.GetEnvironmentVariable);
            else Console.WriteLine($"full report: {html}");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// A note when report.json is not the report <paramref name="spec"/> plans now (its key is another than the spec's
    /// Report job's): artifacts/&lt;name&gt;/ holds the last run's report, which may be of the spec before an edit, or
    /// of another spec of the same name. Null when it is the spec's own.
    /// </summary>
    public static string? NotItsOwn(PipelineReport report, PipelineSpec spec, string file)
    {
        var key = PipelineGraph.Plan(spec, PuzzleStages.All()).Jobs["Report"].Single().Key;
        return report.Key == key ? null
            : $"note: this report is not {file}'s as it reads now: it was built from other inputs (its key {report.Key[..Math.Min(12, report.Key.Length)]}, " +
              $"the spec's {key[..12]}): the spec was edited since, another spec named '{spec.Name}' ran last, a stage behind it is newer in this puzzle, " +
              "or the run had --device; " +
              $"`puzzle run {file} --target Report` builds its own";
    }

    /// <summary>
    /// Opens the page in the desktop's browser where there is one, and always prints its path: starting an opener
    /// says nothing about whether a browser showed the page (xdg-open starts fine on a machine without a display).
    /// </summary>
    public static bool Open(string path, TextWriter output, Func<string, string?> environment)
    {
        var opened = HasDisplay(environment) && TryOpen(path);
        output.WriteLine(opened ? $"opened {path}" : $"no display to open a browser on here; the report is {path}");
        return opened;
    }

    /// <summary>On Linux a browser needs an X11 or Wayland display; macOS and Windows always have a desktop session.</summary>
    public static bool HasDisplay(Func<string, string?> environment) =>
        !OperatingSystem.IsLinux() && !OperatingSystem.IsFreeBSD()
        || !string.IsNullOrEmpty(environment("DISPLAY")) || !string.IsNullOrEmpty(environment("WAYLAND_DISPLAY"));

    static bool TryOpen(string path)
    {
        var opener = OperatingSystem.IsMacOS() ? "open" : OperatingSystem.IsWindows() ? "explorer" : "xdg-open";
        try
        {
            using var p = Process.Start(new ProcessStartInfo(opener, [path]) { UseShellExecute = false, RedirectStandardError = true });
            if (p is null) return false;
            // xdg-open hands the page to a browser and exits; a non-zero exit means no browser took it. One that is
            // still busy after a few seconds is a browser running in its place: count that as opened.
            return !p.WaitForExit(TimeSpan.FromSeconds(5)) || p.ExitCode == 0 || OperatingSystem.IsWindows();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
