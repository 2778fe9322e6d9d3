using System.CommandLine;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Pipeline.Cache;

namespace Puzzle.Cli.Commands;

/// <summary>
/// <c>puzzle verify PACKAGE</c>: checks a model package (.nupkg or extracted folder) against its provenance manifest.
/// <c>puzzle verify --store DIR</c>: hashes every payload file of every entry of a cache store against its manifest.
/// </summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var package = new Argument<string?>("package") { Description = "a model package (.nupkg) or the folder it was extracted to", Arity = ArgumentArity.ZeroOrOne };
        var store = new Option<DirectoryInfo?>("--store") { Description = "check every entry of this cache store (full hashes) instead of a package" };
        var command = new Command("verify", "Check a model package's files against its provenance manifest, or every entry of a cache store") { package, store };
        command.SetAction(parse =>
        {
            var storeDir = parse.GetValue(store);
            var packagePath = parse.GetValue(package);
            if (storeDir is not null && packagePath is not null)
                throw new ArgumentException("verify: give either a PACKAGE or --store, not both");
            if (storeDir is not null) return VerifyStore(storeDir);
            if (packagePath is null) throw new ArgumentException("verify: give a PACKAGE to check, or --store DIR to check a cache store");
            var provenance = PackagedModel.Check(packagePath);
            Console.WriteLine($"{provenance.Id} {provenance.Version}: {provenance.Model} of pipeline '{provenance.Pipeline}', " +
                              $"{provenance.Files.Count} files verified, {provenance.Jobs.Count} jobs in its provenance");
            Console.WriteLine($"pipeline key {provenance.PipelineKey}");
            return 0;
        });
        return command;
    }

    static int VerifyStore(DirectoryInfo dir)
    {
        if (!dir.Exists) throw new DirectoryNotFoundException($"{dir.FullName}: cache store not found");
        var (entries, damage) = StoreVerifier.CheckStore(new CacheStore(dir.FullName));
        foreach (var d in damage) Console.WriteLine($"damaged: {d}");
        var damagedEntries = damage.Select(d => d.Directory).Distinct().Count();
        Console.WriteLine($"{entries} entries checked, {damagedEntries} damaged");
        return damagedEntries == 0 ? 0 : 1;
    }
}
