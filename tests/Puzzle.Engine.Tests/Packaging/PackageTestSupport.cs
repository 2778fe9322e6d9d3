using System.Text.Json.Nodes;
using Puzzle.Engine.Export;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tests.Checkpoints;
using Puzzle.Engine.Tests.Export;

namespace Puzzle.Engine.Tests.Packaging;

/// <summary>Small model packages made the way the Pack stage makes them.</summary>
internal static class PackageTestSupport
{
    /// <summary>Exports a small random child (seed decides its weights) into <paramref name="root"/>/export-SEED and packs it.</summary>
    public static PackResult Make(string root, string id = "Puzzle.Test.Model", string version = "1.0.0", int seed = 0, string? outputDirectory = null)
    {
        var heal = Path.Combine(root, $"heal-{seed}");
        var export = Path.Combine(root, $"export-{seed}");
        if (!Directory.Exists(export))
        {
            ExportTestSupport.WriteChild(heal, CheckpointTestSupport.Homogeneous(), seed);
            ChildExporter.Export(heal, export, new ExportOptions(), ExportTestSupport.Card());
        }
        var spec = Path.Combine(root, "pipeline.yaml");
        if (!File.Exists(spec)) File.WriteAllText(spec, "name: unit\n");
        return ModelPackage.Pack(Contents(id, version, export, spec), outputDirectory ?? Path.Combine(root, "out"));
    }

    public static PackContents Contents(string id, string version, string modelDirectory, string specPath) => new()
    {
        Id = id, Version = version, ModelDirectory = modelDirectory, SpecPath = specPath, Pipeline = "unit", Model = "child1",
        PipelineKey = new string('c', 64),
        Jobs = [new ProvenanceJob("Heal", "child1", 1, new string('b', 64)), new ProvenanceJob("Pack", "pack", 1, new string('c', 64))],
        Export = new JsonObject { ["format"] = "llama", ["dtype"] = "float32" },
        Metrics = new JsonObject { ["model"] = new JsonObject { ["top1"] = 0.29 } },
        NotBitIdentical = ["Measure: latencies are measurements"],
        Build = new SortedDictionary<string, string> { ["puzzle"] = "0.1.0", ["cpu"] = "test" },
    };

    /// <summary>Extracts a package as NuGet does into its package folder.</summary>
    public static string Extract(string nupkg, string directory)
    {
        System.IO.Compression.ZipFile.ExtractToDirectory(nupkg, directory);
        return directory;
    }
}
