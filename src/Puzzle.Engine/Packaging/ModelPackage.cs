using System.IO.Compression;
using System.Security.Cryptography;
using NuGet.Packaging;
using NuGet.Versioning;
using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Packaging;

/// <summary>What <see cref="ModelPackage.Pack"/> wrote.</summary>
public sealed record PackResult(string Path, string Sha256, long Bytes, PackageProvenance Provenance);

/// <summary>
/// A NuGet package holding one exported model: <c>model/</c> (the Hugging Face folder), <c>puzzle/pipeline.yaml</c>,
/// <c>puzzle/report.json</c>, <c>puzzle/provenance.json</c>, and <c>build/&lt;id&gt;.props</c>, which copies the model
/// beside a consuming app (<c>puzzle-models/&lt;id&gt;/&lt;version&gt;/</c>) and tells <see cref="PackagedModel"/> where the package lies.
/// Packages are deterministic (NuGet's fixed entry order, and a fixed entry time): the same contents give the same bytes.
/// Weights are stored uncompressed (<see cref="IsStored"/>), every other entry deflated.
/// </summary>
public static class ModelPackage
{
    public const string ModelFolder = "model", PuzzleFolder = "puzzle", SpecFileName = "pipeline.yaml", ReportFileName = "report.json";
    /// <summary>Where the build props put a package's model beside the consuming app.</summary>
    public const string OutputFolder = "puzzle-models";
    /// <summary>The runtime-config key (AppContext data) the props set to the package's folder, followed by the id.</summary>
    public const string RuntimeConfigPrefix = "Puzzle.Models.";
    /// <summary>Every zip entry's time: a package's bytes depend on its contents only.</summary>
    const string FixedTimestamp = "2000-01-01T00:00:00Z";

    public static string FileName(string id, string version) => $"{id}.{NuGetVersion.Parse(version).ToNormalizedString()}.nupkg";

    /// <summary>Writes <c>&lt;id&gt;.&lt;version&gt;.nupkg</c> into <paramref name="outputDirectory"/>, atomically.</summary>
    /// <exception cref="ArgumentException">An invalid id or version, or a model folder without config.json.</exception>
    public static PackResult Pack(PackContents contents, string outputDirectory)
    {
        if (!PackageIdValidator.IsValidPackageId(contents.Id))
            throw new ArgumentException($"pack.id '{contents.Id}' is not a valid NuGet package id (letters, digits, '.', '-', '_'; at most 100 characters)");
        if (!NuGetVersion.TryParse(contents.Version, out var version))
            throw new ArgumentException($"pack.version '{contents.Version}' is not a valid NuGet version (SemVer, e.g. 1.0.0 or 1.0.0-beta.1)");
        if (!File.Exists(Path.Combine(contents.ModelDirectory, Checkpoints.HfConfig.FileName)))
            throw new ArgumentException($"{contents.ModelDirectory}: no config.json; pack an exported Hugging Face folder");
        if (!File.Exists(contents.SpecPath)) throw new ArgumentException($"{contents.SpecPath}: the pipeline spec to pack is missing");

        Directory.CreateDirectory(outputDirectory);
        // scratch for the files the package is built from (props, provenance); only the .nupkg is published
        var staging = Path.Combine(outputDirectory, $".pack-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            // package path → file on disk
            var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in Directory.EnumerateFiles(contents.ModelDirectory, "*", SearchOption.AllDirectories))
                files[$"{ModelFolder}/{Path.GetRelativePath(contents.ModelDirectory, file).Replace('\\', '/')}"] = file;
            files[$"{PuzzleFolder}/{SpecFileName}"] = contents.SpecPath;
            if (contents.ReportPath is { } report) files[$"{PuzzleFolder}/{ReportFileName}"] = report;

            var provenance = new PackageProvenance
            {
                Id = contents.Id, Version = version.ToNormalizedString(), Pipeline = contents.Pipeline, Model = contents.Model,
                PipelineKey = contents.PipelineKey, Tool = BuildFacts.ToolVersion, Build = contents.Build,
                Export = contents.Export, Spec = $"{PuzzleFolder}/{SpecFileName}", Jobs = contents.Jobs, Metrics = contents.Metrics,
                Files = files.ToDictionary(p => p.Key, p => new ProvenanceFile(Sha256(p.Value), new FileInfo(p.Value).Length)),
                NotBitIdentical = contents.NotBitIdentical,
            };
            if (contents.VersionNamesContents)
            {
                var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(provenance.ToJson())));
                version = NuGetVersion.Parse($"{version.ToNormalizedString()}.c{digest[..8]}"); // "c": a SemVer part may not be all digits with a leading 0
                provenance = provenance with { Version = version.ToNormalizedString() };
            }
            var provenancePath = Path.Combine(staging, PackageProvenance.FileName);
            File.WriteAllText(provenancePath, provenance.ToJson());
            files[$"{PuzzleFolder}/{PackageProvenance.FileName}"] = provenancePath;
            var props = Path.Combine(staging, "props");
            File.WriteAllText(props, BuildProps(contents.Id, version.ToNormalizedString()));
            files[$"build/{contents.Id}.props"] = props;
            files[$"buildTransitive/{contents.Id}.props"] = props;
            var card = Path.Combine(contents.ModelDirectory, Export.ModelCard.FileName);
            if (File.Exists(card)) files["README.md"] = card;

            var builder = new PackageBuilder(deterministic: true)
            {
                Id = contents.Id, Version = version, Title = $"{contents.Pipeline}: {contents.Model}",
                Description = contents.Description.Length > 0 ? contents.Description : $"The {contents.Model} model of the Puzzle pipeline '{contents.Pipeline}' (Hugging Face folder under model/).",
                Readme = File.Exists(card) ? "README.md" : null,
                // deterministic alone still stamps the current time on every entry: fix it, so equal contents give equal bytes
                DeterministicTimestamp = FixedTimestamp,
            };
            builder.Authors.Add("Puzzle.NET");
            foreach (var tag in new[] { "puzzle", "model", "llm", contents.Pipeline }) builder.Tags.Add(tag);
            // NuGet deflates every entry; weights are added as empty stand-ins and then stored uncompressed (below)
            var standIn = Path.Combine(staging, "stored");
            File.WriteAllBytes(standIn, []);
            foreach (var (target, source) in files)
                builder.Files.Add(new PhysicalPackageFile { SourcePath = IsStored(target) ? standIn : source, TargetPath = target });
            var draft = Path.Combine(staging, "draft.nupkg");
            using (var stream = new FileStream(draft, FileMode.CreateNew, FileAccess.Write)) builder.Save(stream);

            var path = Path.Combine(outputDirectory, FileName(contents.Id, version.ToNormalizedString()));
            AtomicFile.Write(path, temp =>
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                {
                    WithStoredWeights(draft, stream, files);
                    stream.Flush(flushToDisk: true);
                }
            });
            return new PackResult(path, Sha256(path), new FileInfo(path).Length, provenance);
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Whether a package entry is stored without compression: model weights. Deflate shrinks bfloat16 weights to about
    /// 78% at about 45 MB/s on one core (`Puzzle.Benchmarks ship`): minutes for an 8B child, for a fifth of its bytes.
    /// </summary>
    public static bool IsStored(string entry) => entry.EndsWith(".safetensors", StringComparison.Ordinal);

    /// <summary>Copies NuGet's package <paramref name="draft"/> into <paramref name="output"/> entry by entry, in its
    /// order and with its times and attributes, filling the stand-ins of <see cref="IsStored"/> entries from their files,
    /// uncompressed; every other entry is deflated as NuGet did.</summary>
    static void WithStoredWeights(string draft, Stream output, IReadOnlyDictionary<string, string> files)
    {
        using var source = ZipFile.OpenRead(draft);
        using var package = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var entry in source.Entries)
        {
            var stored = IsStored(entry.FullName);
            var copy = package.CreateEntry(entry.FullName, stored ? CompressionLevel.NoCompression : CompressionLevel.Optimal);
            copy.LastWriteTime = entry.LastWriteTime;
            copy.ExternalAttributes = entry.ExternalAttributes;
            using var to = copy.Open();
            using var from = stored ? File.OpenRead(files[Uri.UnescapeDataString(entry.FullName)]) : entry.Open();
            from.CopyTo(to, 1 << 20);
        }
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// MSBuild props that copy the model and its manifest next to the consuming app (and into its publish folder), so a
    /// deployed app carries its model, under its version: NuGet extracts every entry with the package's fixed time, so a
    /// copy by timestamp would never replace an older version's files of the same size. <c>PuzzleModelsCopy=false</c>
    /// skips the copy and the app reads the package where NuGet extracted it (the runtime-config entry).
    /// </summary>
    internal static string BuildProps(string id, string version) => $$"""
        <Project>
          <!-- Generated by Puzzle.NET for the model package {{id}} {{version}}: PackagedModel.Load("{{id}}") finds the model through these. -->
          <ItemGroup Condition="'$(PuzzleModelsCopy)' != 'false'">
            <None Include="$(MSBuildThisFileDirectory)../{{ModelFolder}}/**" Link="{{OutputFolder}}/{{id}}/{{version}}/{{ModelFolder}}/%(RecursiveDir)%(Filename)%(Extension)"
                  CopyToOutputDirectory="PreserveNewest" CopyToPublishDirectory="PreserveNewest" Visible="false" Pack="false" />
            <None Include="$(MSBuildThisFileDirectory)../{{PuzzleFolder}}/**" Link="{{OutputFolder}}/{{id}}/{{version}}/{{PuzzleFolder}}/%(RecursiveDir)%(Filename)%(Extension)"
                  CopyToOutputDirectory="PreserveNewest" CopyToPublishDirectory="PreserveNewest" Visible="false" Pack="false" />
          </ItemGroup>
          <ItemGroup>
            <RuntimeHostConfigurationOption Include="{{RuntimeConfigPrefix}}{{id}}" Value="$([System.IO.Path]::GetFullPath('$(MSBuildThisFileDirectory)..'))" />
            <RuntimeHostConfigurationOption Include="{{RuntimeConfigPrefix}}{{id}}.Version" Value="{{version}}" />
          </ItemGroup>
        </Project>

        """;
}
