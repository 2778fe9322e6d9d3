using System.Text.Json;
using System.Text.Json.Nodes;
using NuGet.Common;
using NuGet.Packaging.Core;
using NuGet.Protocol;
using NuGet.Versioning;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Publish: pushes the package to pack.feed (a folder) or pack.source (a NuGet v3 server, API key from the environment
/// variable pack.api_key_env). The job is cached like any other: once a package is on a feed, a rerun with the same
/// key does not push again, unless a folder feed no longer has the package (<see cref="Lost"/>): then it pushes it again.
/// </summary>
public sealed class PublishStage : Stage<PublishStage.PublishJob>
{
    /// <summary>Where the package goes (pack.feed, or pack.source with its key's variable), whether a version may be
    /// overwritten, and whether the version came from the Pack job's key. A folder feed is keyed where it lies
    /// (<paramref name="FeedDirectory"/>, empty for a server): keyed as written, a clone at another path sharing the store
    /// (or a store moved with its spec) found Publish cached and its own feed never got the package.</summary>
    public sealed record PublishJob([property: SpecPath("pack.feed")] string Feed, [property: SpecPath("pack.source")] string? Source, [property: SpecPath("pack.api_key_env")] string ApiKeyEnv,
        [property: SpecPath("pack.allow_overwrite")] bool AllowOverwrite, bool VersionFromKey,
        string FeedDirectory);

    /// <summary>publish.json: what was pushed where.</summary>
    public sealed record PublishRecord(string Id, string Version, string Sha256, string Feed);

    public override string Name => "Publish";
    public override int Version => 2; // 2: typed job config
    public override IReadOnlyList<string> Upstream => ["Pack"];
    public override string Description => "push the package to the feed (a folder, or a NuGet v3 server)";
    public override bool UsesTorch => false;
    public override bool SingleThreaded => true;
    public const string PublishFile = "publish.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
    [
        Job("publish", new PublishJob(spec.Pack.Feed, spec.Pack.Source, spec.Pack.ApiKeyEnv, spec.Pack.AllowOverwrite, spec.Pack.Version is null,
            spec.Pack.Source is null ? spec.Resolve(spec.Pack.Feed) : ""), new Dictionary<string, JobPlan> { ["pack"] = planned["Pack"].Single() }),
    ];

    /// <summary>Where the spec publishes: pack.source with the key from pack.api_key_env, else the folder pack.feed.</summary>
    public static FeedTarget Target(PipelineSpec spec) => Target(spec.Pack.Source, spec.Pack.ApiKeyEnv, spec.Resolve(spec.Pack.Feed));

    static FeedTarget Target(string? source, string apiKeyEnv, string feedDirectory)
    {
        if (source is null) return FeedTarget.Folder(feedDirectory);
        var key = Environment.GetEnvironmentVariable(apiKeyEnv);
        if (string.IsNullOrEmpty(key))
            throw new InvalidOperationException($"pack.source {source} needs an API key: set the environment variable {apiKeyEnv} (pack.api_key_env)");
        return FeedTarget.Server(source, key);
    }

    /// <summary>A folder feed that no longer has the package (a new workspace at the same path, artifacts/ cleaned):
    /// published again. A server's feed is not asked.</summary>
    public override string? Lost(JobPlan job, CacheEntry entry)
    {
        if (job.ConfigAs<PublishJob>() is not { Source: null, FeedDirectory: { Length: > 0 } feed }) return null;
        var record = RecordFile.Read<PublishRecord>(Path.Combine(entry.Directory, PublishFile));
        var identity = new PackageIdentity(record.Id, NuGetVersion.Parse(record.Version));
        bool there;
        try
        {
            there = Directory.Exists(feed) && (FolderFeed.IsFlat(feed)
                ? LocalFolderUtility.GetPackageV2(feed, identity, NullLogger.Instance)
                : LocalFolderUtility.GetPackageV3(feed, identity, NullLogger.Instance)) is not null;
        }
        // a damaged copy (NuGet cannot open it) is not the package: the push replaces it, or names it (FolderFeed.Prepare);
        // thrown here it failed puzzle status, graph and run before anything started
        catch (Exception e) when (e is NuGet.Protocol.Core.Types.FatalProtocolException or InvalidDataException or IOException)
        {
            return $"{feed} holds {record.Id} {record.Version} damaged ({e.Message})";
        }
        return there
            ? null
            : $"{feed} no longer has {record.Id} {record.Version}";
    }

    protected override void Run(PublishJob job, JobContext context)
    {
        var package = PackStage.PackagePath(context.Input("pack"));
        var target = Target(job.Source, job.ApiKeyEnv, job.FeedDirectory);
        // a version derived from the Pack key names these bytes alone: a damaged copy of it on the feed is replaced
        var versionFromKey = job.VersionFromKey;
        PushOutcome outcome;
        try { outcome = FeedPublisher.PushAsync(package, target, job.AllowOverwrite, context.Log, versionFromKey).GetAwaiter().GetResult(); }
        catch (FeedException e) when (e.VersionTaken && versionFromKey)
        {
            // the version names the Pack key and the package's contents: equal versions are equal packages
            throw new FeedException(e.Message + ". The version is derived from the Pack job's key and the package's contents, so a package " +
                                    "of this version with other bytes was not made by this tool from these files (edited, or pushed by " +
                                    "something else). Set pack.allow_overwrite: true to replace it, or set pack.version", e)
            { VersionTaken = true };
        }
        var (id, version) = FeedPublisher.Identity(package);
        RecordFile.Write(context.Output(PublishFile), new PublishRecord(id, version.ToNormalizedString(), ModelPackage.Sha256(package), job.Source ?? job.Feed));
        context.Metrics["outcome"] = outcome.ToString().ToLowerInvariant();
    }
}
