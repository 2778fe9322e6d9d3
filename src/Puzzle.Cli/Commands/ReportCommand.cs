using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
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
            if (!file.Exists) throw new FileNotFoundException($"{file.FullName}: pipeline spec not found");
            var loaded = SpecLoader.Load(file.FullName);
            var folder = Path.Combine(loaded.BaseDirectory, "artifacts", loaded.Name);
            var reportJson = Path.Combine(folder, ReportStage.JsonFile);
            if (!File.Exists(reportJson))
                throw new FileNotFoundException($"{reportJson}: no report yet; run `puzzle run {file} --target Report` first");
            var html = Path.Combine(folder, ReportStage.HtmlFile);
            if (parse.GetValue(json))
            {
                Console.WriteLine(File.ReadAllText(reportJson));
                return 0;
            }
            Console.Write(ReportTable.Render(JsonNode.Parse(File.ReadAllText(reportJson))!.AsObject()));
            if (parse.GetValue(open) && !TryOpen(html)) Console.WriteLine($"no browser to open it with here; the page is {html}");
            else if (!parse.GetValue(open)) Console.WriteLine($"full report: {html}");
            return 0;
        });
        return command;
    }

    static bool TryOpen(string path)
    {
        var opener = OperatingSystem.IsMacOS() ? "open" : OperatingSystem.IsWindows() ? "explorer" : "xdg-open";
        try
        {
            using var p = Process.Start(new ProcessStartInfo(opener, [path]) { UseShellExecute = false, RedirectStandardError = true });
            return p is not null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
