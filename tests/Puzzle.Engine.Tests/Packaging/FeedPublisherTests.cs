using Puzzle.Engine.Packaging;

namespace Puzzle.Engine.Tests.Packaging;

public sealed class FeedPublisherTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly StringWriter _log = new();

    public FeedPublisherTests() => Fixtures.Torch();

    public void Dispose() => _dir.Dispose();

    Task<PushOutcome> Push(PackResult package, FeedTarget feed, bool allowOverwrite = false) =>
        FeedPublisher.PushAsync(package.Path, feed, allowOverwrite, _log);

    [Fact]
    public async Task A_folder_feed_takes_a_package_once_and_refuses_other_bytes_under_the_same_version()
    {
        var first = PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["one"]);
        var other = PackageTestSupport.Make(_dir.Path, seed: 1, outputDirectory: _dir["two"]);
        var feed = FeedTarget.Folder(_dir["feed"]);

        Assert.Equal(PushOutcome.Pushed, await Push(first, feed));
        Assert.Equal(File.ReadAllBytes(first.Path), File.ReadAllBytes(_dir["feed/Puzzle.Test.Model.1.0.0.nupkg"]));
        Assert.Equal(PushOutcome.AlreadyPresent, await Push(first, feed));

        var e = await Assert.ThrowsAsync<FeedException>(() => Push(other, feed));
        Assert.Contains("already has Puzzle.Test.Model 1.0.0 with other contents", e.Message);
        Assert.Contains("pack.allow_overwrite", e.Message);
        Assert.Equal(File.ReadAllBytes(first.Path), File.ReadAllBytes(_dir["feed/Puzzle.Test.Model.1.0.0.nupkg"]));

        Assert.Equal(PushOutcome.Replaced, await Push(other, feed, allowOverwrite: true));
        Assert.Equal(File.ReadAllBytes(other.Path), File.ReadAllBytes(_dir["feed/Puzzle.Test.Model.1.0.0.nupkg"]));
    }

    [Fact]
    public async Task A_v3_server_gets_the_package_with_the_api_key()
    {
        using var server = new FakeNuGetServer("secret-key");
        var first = PackageTestSupport.Make(_dir.Path, outputDirectory: _dir["one"]);
        var other = PackageTestSupport.Make(_dir.Path, seed: 1, outputDirectory: _dir["two"]);
        var feed = FeedTarget.Server(server.IndexUrl, "secret-key");

        Assert.Equal(PushOutcome.Pushed, await Push(first, feed));
        Assert.Equal(File.ReadAllBytes(first.Path), server.Packages["puzzle.test.model/1.0.0"]);
        Assert.Equal(PushOutcome.AlreadyPresent, await Push(first, feed));
        var e = await Assert.ThrowsAsync<FeedException>(() => Push(other, feed));
        Assert.Contains("with other contents", e.Message);
        Assert.Equal(PushOutcome.Replaced, await Push(other, feed, allowOverwrite: true));
        Assert.Equal(File.ReadAllBytes(other.Path), server.Packages["puzzle.test.model/1.0.0"]);
        Assert.Contains(server.Requests, r => r.StartsWith("DELETE /api/v2/package/Puzzle.Test.Model/1.0.0", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain("secret-key", _log.ToString());
    }

    [Trait("Category", "Slow")] // a real HTTP server and NuGet's retries
    [Fact]
    public async Task A_wrong_api_key_is_an_error_naming_the_feed_not_the_key()
    {
        using var server = new FakeNuGetServer("secret-key");
        var package = PackageTestSupport.Make(_dir.Path);
        var wrong = await Assert.ThrowsAsync<FeedException>(() => Push(package, FeedTarget.Server(server.IndexUrl, "guess")));
        Assert.StartsWith(server.IndexUrl, wrong.Message);
        Assert.Contains("403", wrong.Message);
        Assert.DoesNotContain("guess", wrong.Message);
        Assert.Empty(server.Packages);
    }

    [Fact]
    public void Servers_need_https_off_this_machine_and_a_key()
    {
        Assert.Contains("plain http", Assert.Throws<ArgumentException>(() => FeedTarget.Server("http://feeds.invalid/v3/index.json", "k")).Message);
        Assert.Contains("API key", Assert.Throws<ArgumentException>(() => FeedTarget.Server("https://feeds.invalid/v3/index.json", "")).Message);
        Assert.Contains("not an http(s) URL", Assert.Throws<ArgumentException>(() => FeedTarget.Server("ftp://x/index.json", "k")).Message);
        Assert.True(FeedTarget.Server("http://127.0.0.1:5000/v3/index.json", "k").ToString() == "http://127.0.0.1:5000/v3/index.json");
    }
}
