using NuGet.Common;
using NuGet.Protocol;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Tests.Checkpoints;

namespace Puzzle.Engine.Tests.Packaging;

/// <summary>A folder feed after interrupted pushes: what a killed push leaves, and what the next push does with it.</summary>
public sealed class FolderFeedTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly StringWriter _log = new();

    public FolderFeedTests() => Fixtures.Torch();

    public void Dispose() => _dir.Dispose();

    string Feed => _dir["feed"];
    string InFeed => Path.Combine(Feed, "Puzzle.Test.Model.1.0.0.nupkg");

    /// <summary>What NuGet reads of the feed for the id: (file name, version) of every package, or its error.</summary>
    List<string> NuGetSees() => LocalFolderUtility.GetPackagesV2(Feed, "Puzzle.Test.Model", NullLogger.Instance, CancellationToken.None)
        .Select(p => $"{Path.GetFileName(p.Path)} {p.Identity.Version}").ToList();

    [Fact]
    public async Task A_package_a_killed_push_left_partial_is_replaced_when_its_version_comes_from_the_key()
    {
        var package = PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["one"]);
        var bytes = File.ReadAllBytes(package.Path);
        Directory.CreateDirectory(Feed);
        // what NuGet's in-place copy leaves when killed: the first part of the package (NuGet then fails on the feed)
        File.WriteAllBytes(InFeed, bytes[..(bytes.Length / 2)]);
        Assert.ThrowsAny<Exception>(() => NuGetSees());

        Assert.Equal(PushOutcome.Pushed, await FeedPublisher.PushAsync(package.Path, FeedTarget.Folder(Feed), false, _log, versionFromKey: true));
        Assert.Equal(bytes, File.ReadAllBytes(InFeed));
        Assert.Contains($"{InFeed}: damaged", _log.ToString());
        Assert.Equal(["Puzzle.Test.Model.1.0.0.nupkg 1.0.0"], NuGetSees());

        File.WriteAllBytes(InFeed, []); // a kill before the first byte
        Assert.Equal(PushOutcome.Pushed, await FeedPublisher.PushAsync(package.Path, FeedTarget.Folder(Feed), false, _log, versionFromKey: true));
        Assert.Equal(bytes, File.ReadAllBytes(InFeed));
        Assert.Contains("(0 bytes)", _log.ToString());
        Assert.Equal(["Puzzle.Test.Model.1.0.0.nupkg"], Directory.GetFileSystemEntries(Feed).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_damaged_package_this_push_did_not_produce_is_an_error_naming_the_file_and_is_left_alone()
    {
        var package = PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["one"]);
        Directory.CreateDirectory(Feed);
        var other = Path.Combine(Feed, "Puzzle.Test.Model.0.9.0.nupkg");
        File.WriteAllBytes(other, [1, 2, 3]);

        var e = await Assert.ThrowsAsync<FeedException>(() => FeedPublisher.PushAsync(package.Path, FeedTarget.Folder(Feed), false, _log, versionFromKey: true));
        Assert.StartsWith($"{other}: a damaged package", e.Message);
        Assert.Contains("not the package this pipeline is publishing", e.Message);
        Assert.Contains("restore it from a backup or delete it, then run again", e.Message);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(other));
        Assert.False(File.Exists(InFeed));

        // the same version, set by hand (pack.version): maybe a package consumers have, so it is not replaced either
        File.Delete(other);
        File.WriteAllBytes(InFeed, []);
        e = await Assert.ThrowsAsync<FeedException>(() => FeedPublisher.PushAsync(package.Path, FeedTarget.Folder(Feed), false, _log));
        Assert.StartsWith($"{InFeed}: a damaged package (0 bytes)", e.Message);
        Assert.Contains("pack.version", e.Message);
        Assert.Empty(File.ReadAllBytes(InFeed));
    }

    [Fact]
    public async Task A_push_removes_the_temporaries_of_killed_pushes_but_not_of_a_live_one()
    {
        var package = PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["one"]);
        Directory.CreateDirectory(Feed);
        var dead = AtomicWriteTests.DeadProcessId();
        var killed = Path.Combine(Feed, $".Puzzle.Test.Model.1.0.0.nupkg.tmp-{dead}-0123abcd");
        var legacy = Path.Combine(Feed, $"Puzzle.Test.Model.1.0.0.nupkg.tmp-{dead}");
        var live = Path.Combine(Feed, $".Puzzle.Test.Model.1.0.0.nupkg.tmp-{Environment.ProcessId}-4567abcd");
        foreach (var temp in new[] { killed, legacy, live }) File.WriteAllBytes(temp, [80, 75]);

        Assert.Equal(PushOutcome.Pushed, await FeedPublisher.PushAsync(package.Path, FeedTarget.Folder(Feed), false, _log, versionFromKey: true));
        Assert.Equal([Path.GetFileName(live), "Puzzle.Test.Model.1.0.0.nupkg"], Directory.GetFileSystemEntries(Feed).Select(Path.GetFileName).Order());

        // also when the package is already there: the temporaries go before anything else is decided
        File.WriteAllBytes(killed, [80, 75]);
        Assert.Equal(PushOutcome.AlreadyPresent, await FeedPublisher.PushAsync(package.Path, FeedTarget.Folder(Feed), false, _log, versionFromKey: true));
        Assert.False(File.Exists(killed));
    }

    [Fact]
    public async Task Replacing_a_version_in_a_flat_feed_leaves_one_file_for_it_whatever_the_old_one_was_called()
    {
        var first = PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["one"]);
        var second = PackageTestSupport.Make(_dir.Path, seed: 1, outputDirectory: _dir["two"]);
        Directory.CreateDirectory(Feed);
        File.Copy(first.Path, Path.Combine(Feed, "puzzle.test.model.1.0.0.nupkg")); // pushed by another tool, lower case

        Assert.Equal(PushOutcome.Replaced, await FeedPublisher.PushAsync(second.Path, FeedTarget.Folder(Feed), true, _log));
        Assert.Equal(["Puzzle.Test.Model.1.0.0.nupkg 1.0.0"], NuGetSees());
        Assert.Equal(File.ReadAllBytes(second.Path), File.ReadAllBytes(InFeed));
    }
}
