using System.Text.Json;

namespace Puzzle.Benchmarks;

/// <summary>Named measurements of one benchmark run, with the machine they came from.</summary>
public sealed class BenchmarkReport(string name)
{
    readonly List<(string Metric, double Value, string Unit, string Note)> _rows = [];

    public void Add(string metric, double value, string unit, string note = "") => _rows.Add((metric, value, unit, note));

    public void Write(string path)
    {
        var doc = new
        {
            benchmark = name,
            date = DateTime.UtcNow.ToString("u"),
            machine = new { cores = Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription },
            results = _rows.Select(r => new { metric = r.Metric, value = r.Value, unit = r.Unit, note = r.Note }),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }

    public string Markdown() =>
        "| metric | value | unit | note |\n|---|---:|---|---|\n" +
        string.Join("\n", _rows.Select(r => $"| {r.Metric} | {r.Value:G4} | {r.Unit} | {r.Note} |"));
}
