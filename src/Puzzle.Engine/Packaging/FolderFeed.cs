using NuGet.Common;
using NuGet.Packaging;
using NuGet.Packaging.Core;
using NuGet.Protocol;
using NuGet.Versioning;
using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Packaging;

/// <summary>
/// The folder-feed half of publishing. NuGet's own folder push copies into the feed in place, so a kill mid-copy leaves
/// a partial <c>.nupkg</c> that makes NuGet fail on the whole feed ("Central Directory corrupt") until someone removes
/// it by hand. Here a package is copied to a temporary file in the feed and renamed into place, so the feed never holds
/// a partial package under a package's name; temporaries of killed writers are removed by the next publish, and damaged
/// packages (left by an older push, or by anything else) are found before NuGet trips over them.
/// </summary>
internal static class FolderFeed
{
    /// <summary>True for a flat feed (or a new, empty one), the layout this class writes. A hierarchical (v3) folder
    /// feed is left to NuGet, which extracts a package into per-version folders there.</summary>
    public static bool IsFlat(string root) => LocalFolderUtility.GetLocalFeedType(root, NullLogger.Instance) != FeedType.FileSystemV3;

    /// <summary>
    /// Readies the feed for a push of <paramref name="id"/> <paramref name="version"/>: removes the temporaries of
    /// writers that are gone (whatever they were writing), and checks every package NuGet opens when it looks
    /// <paramref name="id"/> up. A damaged one named for <paramref name="version"/> is removed when
    /// <paramref name="replaceOwnDamaged"/> (the version was derived from this pipeline's key, so the file can only be an
    /// interrupted push of the very package about to be pushed); any other damaged one is an error naming the file and
    /// saying what to do.
    /// </summary>
    public static void Prepare(string root, string id, NuGetVersion version, bool replaceOwnDamaged, TextWriter log)
    {
        var ours = FileName(id, version);
        AtomicDirectory.CleanStale(root); // any version's: a push killed under an older key is never retried
        // the files NuGet's folder lookup opens for an id: every NAME.nupkg whose name starts with "ID."
        foreach (var file in Directory.EnumerateFiles(root, "*.nupkg"))
        {
            var name = Path.GetFileName(file);
            if (!name.StartsWith(id + ".", StringComparison.OrdinalIgnoreCase) || Damage(file) is not { } damage) continue;
            var isOurs = string.Equals(name, ours, StringComparison.OrdinalIgnoreCase);
            if (replaceOwnDamaged && isOurs)
            {
                File.Delete(file);
                log.WriteLine($"{file}: damaged ({damage}), left by an interrupted push of this very package: removed, pushing it again");
                continue;
            }
            throw new FeedException($"{file}: a damaged package ({damage}); NuGet cannot read the feed while it is there. " +
                                    (isOurs
                                        ? "Its version was set by hand (pack.version), so it may be a package consumers already have: "
                                        : "It is not the package this pipeline is publishing: ") +
                                    "restore it from a backup or delete it, then run again");
        }
    }

    /// <summary>Copies <paramref name="nupkg"/> into the feed under a temporary name and renames it into place (replacing
    /// the same version's package, if any).</summary>
    public static void Write(string nupkg, string root, string id, NuGetVersion version)
    {
        var target = Path.Combine(root, FileName(id, version));
        AtomicFile.Copy(nupkg, target);
        // the same version under another file name (another spelling of the id or version) would be a second copy
        // NuGet finds for the version: the package just written is the only one
        foreach (var other in LocalFolderUtility.GetPackagesV2(root, id, NullLogger.Instance, CancellationToken.None))
            if (other.Identity.Version == version && !string.Equals(Path.GetFullPath(other.Path), Path.GetFullPath(target), StringComparison.Ordinal))
                File.Delete(other.Path);
    }

    public static string FileName(string id, NuGetVersion version) => $"{id}.{version.ToNormalizedString()}.nupkg";

    /// <summary>Why NuGet could not read <paramref name="file"/>, or null when it reads.</summary>
    static string? Damage(string file)
    {
        try
        {
            using var reader = new PackageArchiveReader(file);
            reader.GetIdentity();
            return null;
        }
        catch (FileNotFoundException) { return null; } // a concurrent publish replaced or removed it: nothing to judge
        catch (Exception e) when (e is InvalidDataException or PackagingException or IOException or System.Xml.XmlException)
        {
            return new FileInfo(file).Length == 0 ? "0 bytes" : e.Message;
        }
    }
}
