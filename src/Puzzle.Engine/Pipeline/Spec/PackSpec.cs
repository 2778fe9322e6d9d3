using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The NuGet package the exported child is packed into, and the local feed it is pushed to.</summary>
[Description("The NuGet package of the exported child.")]
public sealed record PackSpec
{
    [Description("Package id; default: derived from the pipeline's name.")]
    [Pattern(@"^[A-Za-z0-9_]+([.-][A-Za-z0-9_]+)*$", Hint = "a NuGet id like Moby.Puzzle.2x")]
    public string? Id { get; init; }

    [Description("Package version (SemVer); default: the tool's version.")]
    [Pattern(@"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$", Hint = "a SemVer version like 1.0.0 or 1.0.0-beta.1")]
    public string? Version { get; init; }

    [Description("The local feed folder, inside artifacts/ or .puzzle/.")]
    public string Feed { get; init; } = "artifacts/feed";

    [Description("Replace a package of the same id and version already in the feed.")]
    public bool AllowOverwrite { get; init; }
}
