using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Packaging;

/// <summary>
/// A Puzzle model restored from a NuGet package: found by package id (beside the app, where the package's build props
/// copy it, or where NuGet extracted it) and checked against its provenance manifest before anything reads it, so a
/// damaged or altered package is an error naming the file, not a model that quietly computes something else.
/// </summary>
public sealed class PackagedModel
{
    PackagedModel(string directory, PackageProvenance provenance)
    {
        Directory = directory;
        Provenance = provenance;
    }

    /// <summary>The folder holding <c>model/</c> and <c>puzzle/</c>.</summary>
    public string Directory { get; }
    public PackageProvenance Provenance { get; }
    public string Id => Provenance.Id;
    public string Version => Provenance.Version;
    /// <summary>The Hugging Face model folder (config.json, safetensors, tokenizer.json, README.md).</summary>
    public string ModelDirectory => Path.Combine(Directory, ModelPackage.ModelFolder);
    /// <summary>The pipeline spec that made the model.</summary>
    public string SpecPath => Path.Combine(Directory, Provenance.Spec);

    /// <summary>
    /// Finds the package <paramref name="idOrDirectory"/> (a package id, or a folder holding <c>puzzle/provenance.json</c>)
    /// and verifies every file against the manifest.
    /// </summary>
    /// <exception cref="PackageIntegrityException">Not found, or a file is missing, changed or unexpected.</exception>
    public static PackagedModel Load(string idOrDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idOrDirectory);
        var directory = System.IO.Directory.Exists(idOrDirectory) ? Path.GetFullPath(idOrDirectory) : Locate(idOrDirectory);
        var provenance = PackageProvenance.Read(Path.Combine(directory, ModelPackage.PuzzleFolder, PackageProvenance.FileName));
        if (!System.IO.Directory.Exists(idOrDirectory) && !string.Equals(provenance.Id, idOrDirectory, StringComparison.OrdinalIgnoreCase))
            throw new PackageIntegrityException($"{directory}: holds package '{provenance.Id}', not '{idOrDirectory}'");
        var model = new PackagedModel(directory, provenance);
        model.Verify();
        return model;
    }

    /// <summary>
    /// Checks a package file (<c>.nupkg</c>, extracted to a scratch folder and removed after) or an extracted package
    /// folder: every file against the manifest, and the model folder as a checkpoint (config and tensor shapes).
    /// </summary>
    /// <exception cref="PackageIntegrityException">A file is missing, changed or unexpected.</exception>
    /// <exception cref="CheckpointException">The model folder is not a loadable checkpoint.</exception>
    public static PackageProvenance Check(string path)
    {
        if (System.IO.Directory.Exists(path)) return CheckFolder(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such package file or folder", path);
        var scratch = Path.Combine(Path.GetTempPath(), $"puzzle-verify-{Guid.NewGuid():N}");
        try
        {
            try { System.IO.Compression.ZipFile.ExtractToDirectory(path, scratch); }
            catch (InvalidDataException e) { throw new PackageIntegrityException($"{path}: not a readable package ({e.Message})", e); }
            try
            {
                var provenance = CheckFolder(scratch);
                CheckPackaging(scratch, provenance);
                return provenance;
            }
            catch (Exception e) when (e is PackageIntegrityException or CheckpointException)
            {
                // the scratch folder is gone when the user reads this: name the package and the file inside it instead
                var inside = e.Message.Replace(scratch + Path.DirectorySeparatorChar, $"{path}!{Path.DirectorySeparatorChar}")
                    .Replace($"delete {scratch} and restore (or build) again", "build or download the package again")
                    .Replace(scratch, path);
                throw new PackageIntegrityException(inside, e);
            }
        }
        finally
        {
            if (System.IO.Directory.Exists(scratch)) System.IO.Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>
    /// What a package holds besides <c>model/</c> and <c>puzzle/</c> (whose files the manifest hashes): its nuspec names the
    /// manifest's id and version; its build props, MSBuild code that runs in every consumer's build, are exactly the ones
    /// Pack writes for that id and version, and nothing else is under <c>build/</c> or <c>buildTransitive/</c>; its readme is
    /// the model card in <c>model/</c>.
    /// </summary>
    static void CheckPackaging(string directory, PackageProvenance provenance)
    {
        string In(string relative) => Path.Combine(directory, relative.Replace('/', Path.DirectorySeparatorChar));
        var nuspecs = System.IO.Directory.GetFiles(directory, "*.nuspec");
        if (nuspecs.Length != 1) throw new PackageIntegrityException($"{directory}: {nuspecs.Length} .nuspec files; a package has one");
        var metadata = System.Xml.Linq.XDocument.Load(nuspecs[0]).Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "metadata");
        string? Meta(string name) => metadata?.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
        if (Meta("id") != provenance.Id || Meta("version") != provenance.Version)
            throw new PackageIntegrityException($"{nuspecs[0]}: names {Meta("id")} {Meta("version")}, but provenance.json says {provenance.Id} {provenance.Version}");
        var props = ModelPackage.BuildProps(provenance.Id, provenance.Version);
        foreach (var folder in new[] { "build", "buildTransitive" })
        {
            var expected = $"{folder}/{provenance.Id}.props";
            foreach (var file in System.IO.Directory.Exists(In(folder)) ? System.IO.Directory.GetFiles(In(folder), "*", SearchOption.AllDirectories) : [])
                if (Path.GetRelativePath(directory, file).Replace(Path.DirectorySeparatorChar, '/') != expected)
                    throw new PackageIntegrityException($"{file}: not a file Pack writes; MSBuild would run it in every consumer's build");
            if (!File.Exists(In(expected)) || File.ReadAllText(In(expected)) != props)
                throw new PackageIntegrityException($"{In(expected)}: {(File.Exists(In(expected)) ? "differs from" : "missing;")} the props Pack writes for {provenance.Id} {provenance.Version}");
        }
        var card = In("model/README.md");
        if (File.Exists(In("README.md")) && (!File.Exists(card) || !File.ReadAllBytes(In("README.md")).AsSpan().SequenceEqual(File.ReadAllBytes(card))))
            throw new PackageIntegrityException($"{In("README.md")}: differs from the model card model/README.md");
    }

    static PackageProvenance CheckFolder(string directory)
    {
        var model = Load(directory);
        var (_, tensors) = Checkpoint.Open(model.ModelDirectory);
        tensors.Dispose();
        return model.Provenance;
    }

    /// <summary>
    /// The folder of package <paramref name="id"/>: the copy beside the app of the version the app was built against,
    /// else the package where NuGet extracted it (both named in the app's runtimeconfig.json by the package's build
    /// props), else the one version copied beside the app.
    /// </summary>
    public static string Locate(string id)
    {
        var copies = Path.Combine(AppContext.BaseDirectory, ModelPackage.OutputFolder, id);
        if (AppContext.GetData($"{ModelPackage.RuntimeConfigPrefix}{id}.Version") is string version &&
            HasManifest(Path.Combine(copies, version))) return Path.Combine(copies, version);
        if (AppContext.GetData(ModelPackage.RuntimeConfigPrefix + id) is string restored && HasManifest(restored)) return restored;
        var versions = System.IO.Directory.Exists(copies) ? System.IO.Directory.GetDirectories(copies).Where(HasManifest).ToList() : [];
        if (versions.Count == 1) return versions[0];
        throw new PackageIntegrityException(versions.Count > 1
            ? $"{copies}: holds {versions.Count} versions of '{id}' and the app's runtimeconfig.json does not say which it was built against; pass the folder"
            : $"model package '{id}' not found: nothing in {copies} and no runtime-config entry '{ModelPackage.RuntimeConfigPrefix}{id}'. " +
              $"Reference it with <PackageReference Include=\"{id}\" Version=\"...\" /> (its build props put it there), or pass the package's folder.");
    }

    static bool HasManifest(string directory) => File.Exists(Path.Combine(directory, ModelPackage.PuzzleFolder, PackageProvenance.FileName));

    /// <summary>Checks every file the manifest lists (size and SHA-256) and that the model folder holds nothing else.</summary>
    /// <exception cref="PackageIntegrityException">The first difference, naming the file.</exception>
    public void Verify()
    {
        var remedy = $"the package is damaged or was altered; delete {Directory} and restore (or build) again";
        var root = Path.GetFullPath(Directory) + Path.DirectorySeparatorChar;
        foreach (var (name, expected) in Provenance.Files.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var path = Path.GetFullPath(Path.Combine(Directory, name));
            if (Path.IsPathRooted(name) || !path.StartsWith(root, StringComparison.Ordinal))
                throw new PackageIntegrityException($"{ManifestPath}: lists '{name}', which is outside the package");
            if (!File.Exists(path)) throw new PackageIntegrityException($"{path}: missing; {remedy}");
            var bytes = new FileInfo(path).Length;
            if (bytes != expected.Bytes)
                throw new PackageIntegrityException($"{path}: {bytes} bytes, but {PackageProvenance.FileName} says {expected.Bytes}; {remedy}");
            var actual = ModelPackage.Sha256(path);
            if (actual != expected.Sha256)
                throw new PackageIntegrityException($"{path}: SHA-256 {actual}, but {PackageProvenance.FileName} says {expected.Sha256}; {remedy}");
        }
        foreach (var folder in new[] { ModelPackage.ModelFolder, ModelPackage.PuzzleFolder })
        {
            var full = Path.Combine(Directory, folder);
            if (!System.IO.Directory.Exists(full)) continue;
            foreach (var file in System.IO.Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories))
            {
                var name = $"{folder}/{Path.GetRelativePath(full, file).Replace('\\', '/')}";
                if (!Provenance.Files.ContainsKey(name) && name != $"{ModelPackage.PuzzleFolder}/{PackageProvenance.FileName}")
                    throw new PackageIntegrityException($"{file}: not in the package's {PackageProvenance.FileName}; {remedy}");
            }
        }
    }

    string ManifestPath => Path.Combine(Directory, ModelPackage.PuzzleFolder, PackageProvenance.FileName);

    /// <summary>The model's configuration (config.json).</summary>
    public ModelConfig Config => HfConfig.Read(ModelDirectory);

    /// <summary>The model on <paramref name="device"/> (default: the CPU in float32) in its compute dtype, made there one
    /// checkpoint tensor at a time (a bfloat16 model on a GPU never exists in float32 on the host), in eval mode; the
    /// caller disposes it.</summary>
    /// <param name="device">from <see cref="ComputeDevice.Open"/>, which checks the device is usable</param>
    public CausalLM LoadModel(ComputeDevice? device = null)
    {
        TorchRuntime.EnsureLoaded();
        return ParentModel.Load(ModelDirectory, device);
    }

    /// <summary>The model's tokenizer; the caller disposes it.</summary>
    public Tokenizer LoadTokenizer() => Tokenizer.Load(Path.Combine(ModelDirectory, Checkpoint.TokenizerFileName));
}
