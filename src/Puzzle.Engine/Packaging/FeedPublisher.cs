using NuGet.Common;
using NuGet.Configuration;
using NuGet.Packaging;
using NuGet.Packaging.Core;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;
using NuGet.Versioning;

namespace Puzzle.Engine.Packaging;

/// <summary>
/// Pushes a package to a folder feed or a NuGet v3 server with NuGet.Protocol. A version the feed already has is
/// never replaced silently: the same bytes are a no-op, other bytes an error unless overwriting is allowed (then
/// the old one is deleted first). NuGet's own folder push would overwrite without a word, and consumers who
/// restored the old bytes keep them in their package folders, so a replaced version is a trap worth refusing.
/// A flat folder feed is written by <see cref="FolderFeed"/> (a temporary file, then a rename), never in place.
/// </summary>
public static class FeedPublisher
{
    const int TimeoutSeconds = 600;

    /// <param name="versionFromKey">The package's version was derived from the producing job's key and the package's
    /// contents (<see cref="PackContents.VersionNamesContents"/>), so a damaged
    /// package of that version in a folder feed can only be an interrupted push of these bytes: it is replaced.</param>
    public static async Task<PushOutcome> PushAsync(string nupkg, FeedTarget feed, bool allowOverwrite, TextWriter log,
        bool versionFromKey = false, CancellationToken cancel = default)
    {
        if (!File.Exists(nupkg)) throw new FileNotFoundException($"{nupkg}: no such package", nupkg);
        var (id, version) = Identity(nupkg);
        var flat = false;
        if (feed.IsFolder)
        {
            Directory.CreateDirectory(feed.Source);
            flat = FolderFeed.IsFlat(feed.Source);
            if (flat) FolderFeed.Prepare(feed.Source, id, version, versionFromKey, log);
        }
        var logger = new Logger(log);
        var source = new PackageSource(feed.Source) { AllowInsecureConnections = feed.IsLoopbackHttp };
        var repository = Repository.Factory.GetCoreV3(source);
        using var cache = new SourceCacheContext { NoCache = true, DirectDownload = true };
        var ours = ModelPackage.Sha256(nupkg);

        var existing = await Download(repository, id, version, cache, logger, feed, cancel);
        var outcome = PushOutcome.Pushed;
        if (existing is not null)
        {
            if (existing == ours)
            {
                log.WriteLine($"{feed}: {id} {version} is already there, byte for byte");
                return PushOutcome.AlreadyPresent;
            }
            if (!allowOverwrite)
                throw new FeedException($"{feed}: already has {id} {version} with other contents (SHA-256 {existing}, this one {ours}); " +
                                        "give the package a new version, or allow overwriting (pack.allow_overwrite: true)")
                { VersionTaken = true };
            if (!flat) // in a flat folder the rename below replaces the old package in one step: never a moment without one
            {
                var update = await Resource<PackageUpdateResource>(repository, feed, cancel);
                await Guard(feed, () => update.Delete(id, version.ToNormalizedString(), _ => feed.ApiKey ?? "", _ => true, false, feed.IsLoopbackHttp, logger));
            }
            outcome = PushOutcome.Replaced;
        }

        if (flat) FolderFeed.Write(nupkg, feed.Source, id, version);
        else
        {
            var push = await Resource<PackageUpdateResource>(repository, feed, cancel);
            await Guard(feed, () => push.Push([nupkg], null!, TimeoutSeconds, false, _ => feed.ApiKey ?? "", _ => "", false, false, null!, feed.IsLoopbackHttp, logger));
        }
        if (feed.IsFolder)
        {
            // read it back: a folder feed must now serve exactly these bytes
            var back = await Download(repository, id, version, cache, logger, feed, cancel);
            if (back != ours) throw new FeedException($"{feed}: after the push the feed serves {(back is null ? "no" : "other")} bytes for {id} {version}");
        }
        log.WriteLine($"{feed}: {(outcome == PushOutcome.Replaced ? "replaced" : "pushed")} {id} {version}");
        return outcome;
    }

    /// <summary>The id and version in the package's nuspec.</summary>
    public static (string Id, NuGetVersion Version) Identity(string nupkg)
    {
        try
        {
            using var reader = new PackageArchiveReader(nupkg);
            var identity = reader.GetIdentity();
            return (identity.Id, identity.Version);
        }
        catch (Exception e) when (e is InvalidDataException or PackagingException or IOException)
        {
            throw new FeedException($"{nupkg}: not a readable NuGet package ({e.Message})", e);
        }
    }

    /// <summary>The SHA-256 of the feed's package <paramref name="id"/> <paramref name="version"/>, or null when it has none.</summary>
    static async Task<string?> Download(SourceRepository repository, string id, NuGetVersion version, SourceCacheContext cache, ILogger logger,
        FeedTarget feed, CancellationToken cancel)
    {
        var find = await Resource<FindPackageByIdResource>(repository, feed, cancel);
        return await Guard(feed, async () =>
        {
            if (!await find.DoesPackageExistAsync(id, version, cache, logger, cancel)) return null;
            using var hash = new HashingStream(); // a model package can be gigabytes: hash it as it streams
            if (!await find.CopyNupkgToStreamAsync(id, version, hash, cache, logger, cancel)) return null;
            return hash.Sha256();
        });
    }

    static async Task<T> Resource<T>(SourceRepository repository, FeedTarget feed, CancellationToken cancel) where T : class, INuGetResource =>
        await Guard(feed, () => repository.GetResourceAsync<T>(cancel))
        ?? throw new FeedException($"{feed}: the feed offers no {typeof(T).Name.Replace("Resource", "")} service; is it a NuGet v3 service index?");

    static async Task Guard(FeedTarget feed, Func<Task> action) => await Guard(feed, async () => { await action(); return true; });

    /// <summary>NuGet's failures (HTTP status, unreachable server, bad index) as one error naming the feed.</summary>
    static async Task<T> Guard<T>(FeedTarget feed, Func<Task<T>> action)
    {
        try { return await action(); }
        catch (Exception e) when (e is not FeedException and not OperationCanceledException)
        {
            var inner = e;
            while (inner.InnerException is not null && inner is FatalProtocolException or AggregateException) inner = inner.InnerException;
            throw new FeedException($"{feed}: {inner.Message}", e);
        }
    }

    sealed class Logger(TextWriter log) : LoggerBase
    {
        public override void Log(ILogMessage message)
        {
            if (message.Level >= LogLevel.Information) log.WriteLine($"nuget: {message.Message}");
        }

        public override Task LogAsync(ILogMessage message)
        {
            Log(message);
            return Task.CompletedTask;
        }
    }
}
