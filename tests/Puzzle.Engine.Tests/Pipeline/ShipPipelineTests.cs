using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Cache;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// The CI pipeline (pipelines/ci.yaml) through Export, Pack and Publish with the real CLI (a process per job), twice from an empty
/// store: the same keys, and bit-identical weights, scores and data however the jobs were scheduled (2 job processes ×
/// 1 thread, then 1 job at a time in this process on 2 threads). The second run reuses the first's Measure entries, since latencies are
/// measurements (the package's provenance says so); everything that quotes a measurement is compared without it.
/// </summary>
[Collection(nameof(TimingCollection))] // it measures speed: no other test beside it
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class ShipPipelineTests
{
    /// <summary>The CI pipeline itself (pipelines/ci.yaml), copied into a throwaway repository with its own store and feed.</summary>
    static string Spec => File.ReadAllText(Path.Combine(TestRepo.Source, "pipelines", "ci.yaml"));

    /// <summary>Files that quote a wall-clock measurement, compared with every measured field taken out.</summary>
    static readonly Dictionary<string, string[]> Measured = new()
    {
        ["Parent"] = ["model/parent_report.json"],
        ["Heal"] = ["heal.json"],
        ["Speed"] = ["speeds.json"],
        ["Report"] = ["report.json", "report.html"],
        ["Export"] = ["model/README.md"],
        ["Pack"] = ["*"],
        ["Publish"] = ["publish.json"],
    };

    static Dictionary<(string Stage, string Job), JobManifest> Manifests(string store) =>
        Directory.EnumerateFiles(Path.Combine(store, "cache"), JobManifest.FileName, SearchOption.AllDirectories)
            .Select(p => JobManifest.TryRead(p)!).ToDictionary(m => (m.Stage, m.Job));

    [Fact]
    public async Task The_pipeline_publishes_a_package_and_a_rebuild_from_an_empty_store_gives_the_same_keys_and_weights()
    {
        using var repo = new TestRepo(Spec);
        var first = Cli.Run(repo.Root, "run", repo.SpecPath, "--jobs", "2", "--threads-per-job", "1");
        Assert.True(first.Exit == 0, first.Out + first.Err);

        // the package: on the feed, loadable, its provenance naming every job that made it
        var session = PipelineSession.Open(repo.SpecPath);
        var packJob = session.Graph.Find("Pack", "pack");
        var nupkg = Assert.Single(Directory.GetFiles(Path.Combine(repo.Root, "artifacts", "feed"), "*.nupkg"));
        // the Pack key's 12 hex digits, then 8 of what the package holds
        Assert.Matches($"^Puzzle\\.Ci\\.0\\.0\\.0-k{packJob.Key[..12]}\\.c[0-9a-f]{{8}}\\.nupkg$", Path.GetFileName(nupkg));
        Assert.True(File.Exists(Path.Combine(repo.Root, "artifacts", "ci", "package", Path.GetFileName(nupkg))));
        Assert.True(File.Exists(Path.Combine(repo.Root, "artifacts", "ci", "export", "child1", "model", "model.safetensors")));
        // the exported weights are the healed ones, byte for byte: the store holds them once
        var healed = FileStatus.Identify(Path.Combine(session.Store.EntryDirectory(session.Graph.Find("Heal", "child1").Key), "model", "model.safetensors"));
        var exported = FileStatus.Identify(Path.Combine(session.Store.EntryDirectory(session.Graph.Find("Export", "child1").Key), "model", "model.safetensors"));
        Assert.Equal(healed!.Value.Inode, exported!.Value.Inode);
        using var restored = new TempDir();
        ZipFile.ExtractToDirectory(nupkg, restored.Path);
        var package = PackagedModel.Load(restored.Path);
        var closure = session.Graph.JobsFor("Pack").Select(j => (j.Stage.Name, j.Id, j.Key)).Order().ToList();
        Assert.Equal(closure, package.Provenance.Jobs.Select(j => (j.Stage, j.Job, j.Key)).Order().ToList());
        Assert.Equal(session.Graph.Find("Report", "report").Key, package.Provenance.PipelineKey); // the one pipeline key
        Assert.Contains(package.Provenance.NotBitIdentical, n => n.StartsWith("Measure:"));
        Assert.Equal("child1", (string)package.Provenance.Metrics["model"]!["name"]!);
        Assert.Equal(File.ReadAllText(repo.SpecPath), File.ReadAllText(package.SpecPath));

        var again = Cli.Run(repo.Root, "run", repo.SpecPath);
        Assert.True(again.Exit == 0, again.Out + again.Err);
        Assert.Contains(" 0 ran,", again.Out);

        // a rebuild from an empty store (at the same place), sharing only the measurements, scheduled differently: the
        // Measure jobs' costs and the Search jobs, whose closed loop times the child it chooses
        var a = Manifests(repo.Store);
        Directory.Move(repo.Store, repo.Store + "-a");
        var feed = Path.Combine(repo.Root, "artifacts", "feed");
        Directory.Move(feed, Path.Combine(repo.Root, "feed-kept")); // the feed stays: the rebuild publishes beside the first build
        Directory.Delete(Path.Combine(repo.Root, "artifacts"), recursive: true);
        Directory.CreateDirectory(Path.GetDirectoryName(feed)!);
        Directory.Move(Path.Combine(repo.Root, "feed-kept"), feed);
        foreach (var measure in a.Values.Where(m => m.Stage is "Measure" or "Search"))
            CopyDirectory(Path.Combine(repo.Store + "-a", "cache", measure.Key[..2], measure.Key), Path.Combine(repo.Store, "cache", measure.Key[..2], measure.Key));
        // in this process, one job at a time on this process's 2 torch threads: no process per job, so another schedule too
        var rebuild = PipelineSession.Open(repo.SpecPath);
        var second = await rebuild.RunAsync(null, rebuild.InProcessLauncher(), TextWriter.Null, jobs: 1);
        Assert.True(second.Succeeded, string.Join("\n", second.Where(Engine.Pipeline.Execution.JobOutcome.Failed).Select(f => $"{f.Stage}/{f.Job}: {f.Log}")));
        var b = Manifests(repo.Store);

        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        var weights = 0;
        foreach (var (job, ma) in a)
        {
            var mb = b[job];
            Assert.True(ma.Key == mb.Key, $"{job}: key {ma.Key[..12]} then {mb.Key[..12]}");
            // a package's name ends with 8 hex digits of its contents, which quote measurements
            static Dictionary<string, string> Named(JobManifest m) => m.Files.ToDictionary(f => Regex.Replace(f.Key, @"\.c[0-9a-f]{8}\.nupkg$", ".nupkg"), f => f.Value);
            var (filesA, filesB) = (Named(ma), Named(mb));
            Assert.Equal(filesA.Keys.Order(), filesB.Keys.Order());
            foreach (var (file, hash) in filesA)
            {
                if (file.EndsWith(".safetensors", StringComparison.Ordinal)) weights++;
                if (hash == filesB[file]) continue;
                Assert.True(Measured.TryGetValue(job.Stage, out var allowed) && (allowed.Contains(file) || allowed.Contains("*")),
                    $"{job.Stage}/{job.Job}: {file} differs between two builds from the same spec");
                if (file.EndsWith(".json", StringComparison.Ordinal))
                    Assert.Equal(WithoutMeasurements(Path.Combine(repo.Store + "-a", "cache", ma.Key[..2], ma.Key, file)),
                        WithoutMeasurements(Path.Combine(repo.Store, "cache", mb.Key[..2], mb.Key, file)));
            }
        }
        Assert.True(weights >= 10, $"only {weights} weight files compared");

        // the two packages differ in measured numbers only: same model files
        var packA = a[("Pack", "pack")];
        var providedA = PackageFiles(Path.Combine(repo.Store + "-a", "cache", packA.Key[..2], packA.Key));
        var providedB = PackageFiles(Path.Combine(repo.Store, "cache", packA.Key[..2], packA.Key));
        foreach (var file in new[] { "model/model.safetensors", "model/config.json", "model/tokenizer.json", "puzzle/pipeline.yaml" })
            Assert.Equal(providedA[file].Sha256, providedB[file].Sha256);
        // their versions name their contents, so the feed took the rebuild beside the first (a version from the Pack key
        // alone was refused there: the same version with other bytes)
        Assert.Equal(2, Directory.GetFiles(feed, "*.nupkg").Length);
    }

    static IReadOnlyDictionary<string, ProvenanceFile> PackageFiles(string packDirectory)
    {
        using var restored = new TempDir();
        ZipFile.ExtractToDirectory(Directory.GetFiles(packDirectory, "*.nupkg").Single(), restored.Path);
        return PackageProvenance.Read(Path.Combine(restored.Path, "puzzle", PackageProvenance.FileName)).Files;
    }

    /// <summary>The JSON with every field that holds a measurement (times, rates, measured speedups) removed.</summary>
    static string WithoutMeasurements(string path)
    {
        static JsonNode? Strip(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var key in o.Select(p => p.Key).ToList())
                        if (key.Contains("seconds") || key.Contains("per_s") || key.Contains("per_second") || key is "speedup" or "goals" or "time_s"
                            or "measured_time_s" or "additive_model_error" or "torch_threads" or "measured_on" or "sha256" or "bytes" or "timing_warnings"
                            or "timings")
                            o.Remove(key);
                        else Strip(o[key]);
                    break;
                case JsonArray a:
                    foreach (var item in a) Strip(item);
                    break;
            }
            return node;
        }
        // a derived package version (and its file's name) ends with 8 hex digits of the package's contents
        return Regex.Replace(Strip(JsonNode.Parse(File.ReadAllText(path)))!.ToJsonString(), @"(0\.0\.0-k[0-9a-f]{12})\.c[0-9a-f]{8}", "$1.c(contents)");
    }

    static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
