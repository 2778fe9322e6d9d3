using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Export;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Pack: the chosen child's export as a NuGet package (<see cref="ModelPackage"/>) with the spec as written, the report,
/// and a provenance manifest of every job key that produced it. The version is pack.version, else derived from this
/// job's key, which hashes the spec file's bytes too: a different model or spec never reuses a version.
/// </summary>
public sealed class PackStage : Stage<PackStage.PackJob>
{
    /// <summary>The package's id and version as the spec sets them (null: derived), the child it packs, the spec file's
    /// bytes by hash, and what a rebuild does not reproduce.</summary>
    public sealed record PackJob([property: SpecPath("name")] string Pipeline, [property: SpecPath("pack.id")] string? Id, [property: SpecPath("pack.version")] string? Version, [property: SpecPath("pack.child")] int Child,
        string SpecSha256, Reproducibility.Facts Reproducibility,
        [property: NotInKey("where the spec file lies; its bytes are keyed")] string? SpecFile,
        [property: NotInKey("the spec's path as given, for an error")] string SpecSource);

    /// <summary>pack.json: the package a Pack job made.</summary>
    public sealed record PackRecord(string Id, string Version, string File, string Sha256, long Bytes, string Model);

    public override string Name => "Pack";
    public override int Version => 4; // 4: each job in the provenance names the tool, host and CPU that built it; 3: a derived version ends with 8 hex digits of the contents; 2: typed job config
    public override IReadOnlyList<string> Upstream => ["Export", "Report"];
    public override string Description => "pack the chosen child as a NuGet package with its provenance";
    public override bool UsesTorch => false;
    public override bool SingleThreaded => true;
    public const string PackFile = "pack.json";

    public override string? ArtifactFolder(JobPlan job) => "package";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var child = $"child{spec.Pack.Child}";
        var config = new PackJob(spec.Name, spec.Pack.Id, spec.Pack.Version, spec.Pack.Child, SpecSha256(spec), ReproducibilityFacts(spec),
            SpecFile(spec), spec.SourcePath);
        return
        [
            Job("pack", config, new Dictionary<string, JobPlan>
            {
                ["export"] = planned["Export"].Single(j => j.Id == child),
                ["report"] = planned["Report"].Single(),
            }),
        ];
    }

    /// <summary>pack.id, else "Puzzle." and the pipeline's name in Pascal case (moby-2x → Puzzle.Moby2x).</summary>
    public static string PackageId(PipelineSpec spec) => PackageId(spec.Pack.Id, spec.Name);

    static string PackageId(string? id, string pipeline) => id ??
        "Puzzle." + string.Concat(pipeline.Split('-', '_').Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));

    /// <summary>pack.version, else 0.0.0-k and the first 12 hex digits of the Pack job's key (to which the package then
    /// adds <c>.c</c> and 8 hex digits of its contents: <see cref="PackContents.VersionNamesContents"/>).</summary>
    public static string PackageVersion(PipelineSpec spec, string packKey) => PackageVersion(spec.Pack.Version, packKey);

    static string PackageVersion(string? version, string packKey) => version ?? $"0.0.0-k{packKey[..12]}";

    /// <summary>The spec file's bytes, packed as written; a spec not read from a file hashes its canonical form.</summary>
    /// <summary>What of the spec decides the package's reproducibility notes (<see cref="Reproducibility.NotBitIdentical"/>).</summary>
    static Reproducibility.Facts ReproducibilityFacts(PipelineSpec spec) => new(spec.Search.VerifyRounds > 0 && spec.Scenario.Target is null,
        spec.Parent.Pretrain is not null, spec.Device == DeviceKind.Cuda || spec.Scenario.Device == DeviceKind.Cuda);

    static string SpecSha256(PipelineSpec spec)
    {
        var path = SpecFile(spec);
        var bytes = path is not null ? File.ReadAllBytes(path) : Encoding.UTF8.GetBytes(JsonSerializer.Serialize(spec, PuzzleJson.Options));
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    static string? SpecFile(PipelineSpec spec)
    {
        if (spec.SourcePath.Length == 0) return null;
        var full = Path.GetFullPath(spec.SourcePath);
        return File.Exists(full) ? full : null;
    }

    protected override void Run(PackJob job, JobContext context)
    {
        var exportDir = context.Input("export");
        var export = ExportStage.Read(exportDir);
        if (export.Skipped is { } skipped)
            throw new InvalidOperationException($"pack.child {job.Child}: child{job.Child} has no model ({skipped}); pack another child");
        var specFile = job.SpecFile is { } f && File.Exists(f) ? f : throw new InvalidOperationException($"{job.SpecSource}: the spec file is gone; Pack packs it as written");
        var reportPath = Path.Combine(context.Input("report"), ReportStage.JsonFile);
        var report = PipelineReport.Read(reportPath);
        var model = export.Model;
        var metrics = new JsonObject();
        foreach (var row in report.Models.Where(r => r.Name == model || r.Kind == "parent"))
            metrics[row.Name == model ? "model" : "parent"] = RecordFile.ToJson(row);
        var jobs = Provenance(context);
        var id = PackageId(job.Id, job.Pipeline);
        var version = PackageVersion(job.Version, context.Job.Key);
        var result = ModelPackage.Pack(new PackContents
        {
            Id = id, Version = version, VersionNamesContents = job.Version is null, ModelDirectory = Path.Combine(exportDir, ExportStage.ModelFolder), SpecPath = specFile,
            ReportPath = reportPath, Pipeline = job.Pipeline, Model = model, PipelineKey = context.Job.Inputs["report"].Key, Jobs = jobs,
            Export = RecordFile.ToJson(export), Metrics = metrics, NotBitIdentical = Reproducibility.NotBitIdentical(job.Reproducibility, jobs),
            Description = $"{model} of the Puzzle pipeline '{job.Pipeline}': a {export.Format} model ({export.Parameters:N0} parameters, " +
                          $"{export.Dtype}) with its pipeline spec and provenance.",
        }, context.OutputDirectory);
        RecordFile.Write(context.Output(PackFile), new PackRecord(id, result.Provenance.Version, Path.GetFileName(result.Path), result.Sha256, result.Bytes, model));
        context.Metrics["package_bytes"] = result.Bytes;
        context.Metrics["sha256"] = result.Sha256;
        context.Log.WriteLine($"packed {id} {result.Provenance.Version}: {Path.GetFileName(result.Path)}, {result.Bytes / 1e6:F1} MB, {jobs.Count} jobs in its provenance");
    }

    /// <summary>This job and every job it transitively read, inputs before readers, each with the tool, host and CPU
    /// that built it: its manifest's, or this process's for this job.</summary>
    static IReadOnlyList<ProvenanceJob> Provenance(JobContext context)
    {
        var job = context.Job;
        var result = new List<ProvenanceJob>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Visit(JobPlan j)
        {
            if (!seen.Add(j.Name)) return;
            foreach (var input in j.Inputs.Values.OrderBy(i => i.Name, StringComparer.Ordinal)) Visit(input);
            var built = j == job ? null : context.Built(j.Key);
            result.Add(j == job
                ? new ProvenanceJob(j.Stage.Name, j.Id, j.Stage.Version, j.Key, BuildFacts.ToolVersion, Environment.MachineName, BuildFacts.Cpu())
                : new ProvenanceJob(j.Stage.Name, j.Id, j.Stage.Version, j.Key, built?.Tool, built?.Host, built is { Cpu.Length: > 0 } ? built.Cpu : null));
        }
        Visit(job);
        return result;
    }

    /// <summary>The package file in a Pack job's published folder.</summary>
    public static string PackagePath(string jobDirectory) =>
        Path.Combine(jobDirectory, RecordFile.Read<PackRecord>(Path.Combine(jobDirectory, PackFile)).File);
}
