using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The NuGet package the exported child is packed into, and the feed it is published to.</summary>
[Description("The NuGet package of the exported child.")]
public sealed record PackSpec
{
    [Description("Package id; default: derived from the pipeline's name (e.g. moby-2x → Puzzle.Moby2x).")]
    [Pattern(@"^[A-Za-z0-9_]+([.-][A-Za-z0-9_]+)*$", Hint = "a NuGet id like Moby.Puzzle.2x")]
    public string? Id { get; init; }

    [Description("Package version (SemVer); default: 0.0.0-k<first 12 hex digits of the Pack job's key>.c<8 hex digits of the package's contents>, so a different model, spec or rebuild never reuses a version.")]
    [Pattern(@"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$", Hint = "a SemVer version like 1.0.0 or 1.0.0-beta.1")]
    public string? Version { get; init; }

    [Description("Which child to pack: its rank among the search's solutions (1 = the best).")]
    [Bounds(Minimum = 1)]
    public int Child { get; init; } = 1;

    [Description("The local feed folder, inside artifacts/ or .puzzle/; Publish pushes here unless source is set.")]
    public string Feed { get; init; } = "artifacts/feed";

    [Description("A NuGet v3 server's service index URL (https://.../index.json) to publish to instead of the folder feed.")]
    [Pattern(@"^https?://\S+$", Hint = "an https URL ending in the feed's index.json")]
    public string? Source { get; init; }

    [Description("The environment variable holding the API key for source (never written into the spec).")]
    [Pattern(@"^[A-Za-z_][A-Za-z0-9_]*$", Hint = "an environment variable name like NUGET_API_KEY")]
    public string ApiKeyEnv { get; init; } = "NUGET_API_KEY";

    [Description("Replace a package of the same id and version already on the feed (when its contents differ).")]
    public bool AllowOverwrite { get; init; }
}
