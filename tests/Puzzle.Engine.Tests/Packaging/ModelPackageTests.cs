using System.IO.Compression;
using System.Text.Json.Nodes;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Packaging;

public sealed class ModelPackageTests : IDisposable
{
    readonly TempDir _dir = new();

    public ModelPackageTests() => Fixtures.Torch();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_package_holds_the_model_spec_provenance_and_build_props()
    {
        var result = PackageTestSupport.Make(_dir.Path);

        Assert.Equal(_dir["out/Puzzle.Test.Model.1.0.0.nupkg"], result.Path);
        using var zip = ZipFile.OpenRead(result.Path);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (var expected in new[]
                 {
                     "Puzzle.Test.Model.nuspec", "README.md", "model/config.json", "model/model.safetensors", "model/tokenizer.json",
                     "model/tokenizer_config.json", "model/README.md", "puzzle/pipeline.yaml", "puzzle/provenance.json",
                     "build/Puzzle.Test.Model.props", "buildTransitive/Puzzle.Test.Model.props",
                 })
            Assert.Contains(expected, names);
        var provenance = result.Provenance;
        Assert.Equal(("Puzzle.Test.Model", "1.0.0", "puzzle/pipeline.yaml"), (provenance.Id, provenance.Version, provenance.Spec));
        Assert.Equal(ModelPackageSha("model/model.safetensors", zip), provenance.Files["model/model.safetensors"].Sha256);
        // the weights are stored as they are (deflate would take minutes at 8B for a fifth of the bytes); the rest is deflated
        var weights = zip.GetEntry("model/model.safetensors")!;
        Assert.True(weights.Length > 1000 && weights.CompressedLength == weights.Length, $"{weights.CompressedLength} of {weights.Length}");
        var nuspec = zip.GetEntry("Puzzle.Test.Model.nuspec")!;
        Assert.True(nuspec.CompressedLength < nuspec.Length, $"{nuspec.CompressedLength} of {nuspec.Length}");
        Assert.Contains("Extension=\"safetensors\"", new StreamReader(zip.GetEntry("[Content_Types].xml")!.Open()).ReadToEnd());
        Assert.DoesNotContain("puzzle/provenance.json", provenance.Files.Keys);
        Assert.Equal(2, provenance.Jobs.Count);
        var props = new StreamReader(zip.GetEntry("build/Puzzle.Test.Model.props")!.Open()).ReadToEnd();
        Assert.Contains("puzzle-models/Puzzle.Test.Model/1.0.0/model/", props);
        Assert.Contains("Puzzle.Models.Puzzle.Test.Model", props);
    }

    static string ModelPackageSha(string entry, ZipArchive zip)
    {
        using var stream = zip.GetEntry(entry)!.Open();
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }

    [Fact]
    public void Equal_contents_give_equal_bytes_whenever_they_are_packed()
    {
        // no waiting out the zip format's 2-second resolution: the files are stamped years later instead (an entry time
        // taken from a file would differ), and every entry must carry the fixed time (one taken from the clock would not)
        var first = PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["a"]);
        foreach (var file in Directory.EnumerateFiles(_dir["export-0"], "*", SearchOption.AllDirectories).Append(_dir["pipeline.yaml"]))
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddYears(3));
        var second = PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["b"]);
        using (var zip = ZipFile.OpenRead(second.Path))
            Assert.All(zip.Entries, e => Assert.Equal(2000, e.LastWriteTime.Year));
        Assert.Equal(first.Sha256, second.Sha256);
        Assert.Equal(File.ReadAllBytes(first.Path), File.ReadAllBytes(second.Path));
    }

    /// <summary>A derived version names the contents: a rebuild with new measurements in its report (a rerun of Measure)
    /// gets a version of its own, where a version from the key alone made the feed refuse it; equal contents keep theirs.</summary>
    [Fact]
    public void A_version_that_names_the_contents_changes_with_them_and_only_with_them()
    {
        PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["first"]); // the export and the spec
        var contents = PackageTestSupport.Contents("Puzzle.Test.Model", "0.0.0-k0123456789ab", _dir["export-0"], _dir["pipeline.yaml"]) with { VersionNamesContents = true };
        File.WriteAllText(_dir["report.json"], """{"speedup": 1.51}""");
        contents = contents with { ReportPath = _dir["report.json"] };

        var a = ModelPackage.Pack(contents, _dir["a"]);
        var again = ModelPackage.Pack(contents, _dir["again"]);
        File.WriteAllText(_dir["report.json"], """{"speedup": 1.49}""");
        var remeasured = ModelPackage.Pack(contents, _dir["b"]);

        Assert.Matches("^0\\.0\\.0-k0123456789ab\\.c[0-9a-f]{8}$", a.Provenance.Version);
        Assert.Equal(Path.GetFileName(a.Path), $"Puzzle.Test.Model.{a.Provenance.Version}.nupkg");
        Assert.Equal((a.Provenance.Version, a.Sha256), (again.Provenance.Version, again.Sha256));
        Assert.NotEqual(a.Provenance.Version, remeasured.Provenance.Version);
        using var restored = new TempDir();
        Assert.Equal(a.Provenance.Version, PackagedModel.Load(PackageTestSupport.Extract(a.Path, restored.Path)).Provenance.Version);
    }

    [Fact]
    public void A_restored_package_loads_and_computes_what_was_packed()
    {
        var result = PackageTestSupport.Make(_dir.Path);
        var folder = PackageTestSupport.Extract(result.Path, _dir["restored"]);
        var model = PackagedModel.Load(folder);

        Assert.Equal(("Puzzle.Test.Model", "1.0.0"), (model.Id, model.Version));
        Assert.Equal(0.29, (double)model.Provenance.Metrics["model"]!["top1"]!);
        Assert.Equal("name: unit\n", File.ReadAllText(model.SpecPath));
        using var lm = model.LoadModel();
        using var original = Puzzle.Engine.Parents.ParentModel.Load(_dir["heal-0"]);
        using var ids = tensor(new long[] { 1, 5, 7, 3, 2 }).unsqueeze(0);
        using var a = lm.Forward(ids);
        using var b = original.Forward(ids);
        Assert.True(a.eq(b).all().item<bool>(), "the packaged model computes something else than the exported one");
        // on a device in its compute dtype (bfloat16 here: a GPU's default), made there with no float32 copy
        using var half = model.LoadModel(ComputeDevice.Open(DeviceKind.Cpu, "test", bfloat16));
        Assert.All(half.parameters(), p => Assert.Equal(bfloat16, p.dtype));
        using var c = half.Forward(ids).to(float32);
        var cosine = nn.functional.cosine_similarity(c.flatten(), b.flatten(), dim: 0).item<float>();
        Assert.True(cosine > 0.99, $"the bfloat16 model is not the same model rounded: cosine {cosine} of its logits with float32's");
        Assert.False(c.eq(b).all().item<bool>()); // and it did round: not a float32 model in disguise
        using var tokenizer = model.LoadTokenizer();
        Assert.Equal(32000, tokenizer.VocabSize);
    }

    [Fact]
    public void A_corrupted_package_is_detected_on_load_naming_the_file()
    {
        var result = PackageTestSupport.Make(_dir.Path);
        var folder = PackageTestSupport.Extract(result.Path, _dir["restored"]);
        var weights = Path.Combine(folder, "model", "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^3] ^= 0x40; // one bit of one weight
        File.WriteAllBytes(weights, bytes);

        var e = Assert.Throws<PackageIntegrityException>(() => PackagedModel.Load(folder));
        Assert.Contains(weights, e.Message);
        Assert.Contains("SHA-256", e.Message);
        Assert.Contains(result.Provenance.Files["model/model.safetensors"].Sha256, e.Message);
        Assert.Contains("restore (or build) again", e.Message);
    }

    [Fact]
    public void Missing_truncated_and_extra_files_and_a_broken_manifest_are_errors()
    {
        var result = PackageTestSupport.Make(_dir.Path);
        string Fresh(string name) => PackageTestSupport.Extract(result.Path, _dir[name]);

        var missing = Fresh("missing");
        File.Delete(Path.Combine(missing, "model", "tokenizer.json"));
        Assert.Contains("tokenizer.json: missing", Assert.Throws<PackageIntegrityException>(() => PackagedModel.Load(missing)).Message);

        var truncated = Fresh("truncated");
        var config = Path.Combine(truncated, "model", "config.json");
        File.WriteAllText(config, File.ReadAllText(config)[..100]);
        Assert.Contains("100 bytes, but provenance.json says", Assert.Throws<PackageIntegrityException>(() => PackagedModel.Load(truncated)).Message);

        var extra = Fresh("extra");
        File.WriteAllText(Path.Combine(extra, "model", "model-00002-of-00002.safetensors"), "x");
        Assert.Contains("not in the package's provenance.json", Assert.Throws<PackageIntegrityException>(() => PackagedModel.Load(extra)).Message);

        var broken = Fresh("broken");
        File.WriteAllText(Path.Combine(broken, "puzzle", "provenance.json"), "{ not json");
        var unreadable = Assert.Throws<PackageIntegrityException>(() => PackagedModel.Load(broken)).Message;
        Assert.Contains("not a readable provenance manifest (line 1, column 3: ", unreadable);
        Assert.DoesNotContain("LineNumber", unreadable); // .NET's 0-based position

        var escaping = Fresh("escaping");
        var manifest = Path.Combine(escaping, "puzzle", "provenance.json");
        var json = JsonNode.Parse(File.ReadAllText(manifest))!;
        json["files"]!["../outside.txt"] = new JsonObject { ["sha256"] = "00", ["bytes"] = 1 };
        File.WriteAllText(manifest, json.ToJsonString());
        Assert.Contains("outside the package", Assert.Throws<PackageIntegrityException>(() => PackagedModel.Load(escaping)).Message);

        Assert.Contains("not found", Assert.Throws<PackageIntegrityException>(() => PackagedModel.Load("No.Such.Model")).Message);
    }

    [Fact]
    public void Invalid_ids_and_versions_are_refused_before_anything_is_written()
    {
        PackageTestSupport.Make(_dir.Path); // the export to pack
        var contents = PackageTestSupport.Contents("Bad Id!", "1.0.0", _dir["export-0"], _dir["pipeline.yaml"]);
        Assert.Contains("pack.id 'Bad Id!'", Assert.Throws<ArgumentException>(() => ModelPackage.Pack(contents, _dir["x"])).Message);
        Assert.Contains("pack.version 'one'", Assert.Throws<ArgumentException>(() => ModelPackage.Pack(contents with { Id = "Ok.Id", Version = "one" }, _dir["x"])).Message);
        Assert.False(Directory.Exists(_dir["x"]));
    }
}
