using System.Text;
using Puzzle.Engine.Pipeline.Spec.Internal;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// Loads a pipeline spec strictly: YAML syntax, duplicate keys, unknown keys (with a "did you mean"), types, enum
/// values, ranges, required keys, cross-field rules and the paths it names. All problems are reported together in
/// one <see cref="SpecException"/>, each as <c>FILE:LINE:COLUMN: error: MESSAGE</c>.
/// </summary>
public static class SpecLoader
{
    /// <summary>Loads <paramref name="path"/>; relative paths in it resolve against <see cref="BaseDirectoryOf"/>.</summary>
    /// <exception cref="SpecException">The file cannot be read or is not a valid spec.</exception>
    public static PipelineSpec Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpecException([new SpecError(path, 1, 1, $"cannot read the spec: {e.Message}")], e);
        }
        return Parse(Decode(bytes, path), path, BaseDirectoryOf(path));
    }

    /// <summary>
    /// The spec's text: UTF-8 (its byte-order mark skipped), or UTF-16 with its mark. Bytes that are no UTF-8 are an error
    /// at their line and column, rather than U+FFFD in a name or a path that then fails to match.
    /// </summary>
    static string Decode(byte[] bytes, string path)
    {
        if (Data.DocumentReader.Decode(bytes, out var start, out var bad) is { } text) return text;
        var lineStart = Array.LastIndexOf(bytes, (byte)'\n', Math.Max(0, bad - 1), bad - start) + 1;
        if (lineStart == 0) lineStart = start;
        var line = bytes.AsSpan(start, bad - start).Count((byte)'\n') + 1;
        var column = Encoding.UTF8.GetCharCount(bytes, lineStart, bad - lineStart) + 1; // the bytes before it are UTF-8
        throw new SpecException([new SpecError(path, line, column,
            "the spec is not UTF-8 text (bytes that are no UTF-8 here); save it as UTF-8, e.g. iconv -f latin1 -t utf-8")]);
    }

    /// <summary>
    /// Parses <paramref name="yaml"/> as if read from <paramref name="sourceName"/> (the name errors carry), resolving
    /// paths against <paramref name="baseDirectory"/>.
    /// </summary>
    /// <exception cref="SpecException">The text is not a valid spec.</exception>
    public static PipelineSpec Parse(string yaml, string sourceName, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var root = Path.GetFullPath(baseDirectory);
        var errors = new SpecErrorList(sourceName);
        var tree = new YamlTreeReader(errors).Read(yaml);
        if (tree is null && errors.Any) errors.ThrowIfAny();
        var map = new SourceMap();
        var spec = new SpecBinder(errors, map).BindRoot(tree);
        if (spec is not null) new SpecValidator(map, errors, root).Check(spec);
        errors.ThrowIfAny();
        return spec! with { SourcePath = sourceName, BaseDirectory = root };
    }

    /// <summary>
    /// A <see cref="SpecError"/> pointing at the value of <paramref name="dottedKey"/> (e.g. <c>scenario.device</c>) in
    /// a loaded spec's file, for problems found after loading (before any job runs); the file's start when the key is
    /// not written there (a default).
    /// </summary>
    public static SpecError ErrorAt(PipelineSpec spec, string dottedKey, string message)
    {
        var at = new SourcePosition(1, 1);
        try
        {
            YamlNode? node = new YamlTreeReader(new SpecErrorList(spec.SourcePath)).Read(File.ReadAllText(spec.SourcePath));
            foreach (var key in dottedKey.Split('.'))
            {
                node = (node as YamlMapping)?[key];
                if (node is null) break;
                at = node.Start;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the file moved: point at its start */ }
        return new SpecError(spec.SourcePath, at.Line, at.Column, message);
    }

    /// <summary>
    /// The folder a spec file's paths resolve against: the repository root (the folder holding <c>pipelines/</c>)
    /// when the file is in a <c>pipelines/</c> folder, else the file's own folder.
    /// </summary>
    public static string BaseDirectoryOf(string specPath)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(specPath))!;
        return Path.GetFileName(folder) == "pipelines" ? Path.GetDirectoryName(folder) ?? folder : folder;
    }
}
