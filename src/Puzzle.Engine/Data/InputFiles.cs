using System.Text;
using System.Text.RegularExpressions;

namespace Puzzle.Engine.Data;

/// <summary>Turns a list of paths and glob patterns into the input files, in a stable order.</summary>
public static class InputFiles
{
    /// <summary>File kinds the data stage reads.</summary>
    public static readonly IReadOnlyList<string> Extensions = [".txt", ".jsonl"];

    /// <summary>
    /// Resolves each entry of <paramref name="patterns"/> against <paramref name="baseDirectory"/> (default: the
    /// current directory). An entry is a file path or a glob: <c>*</c> and <c>?</c> match within one folder name,
    /// <c>**</c> matches any number of folders. Files keep the order of the entries; each glob's matches are sorted
    /// by ordinal path; a file named twice counts once.
    /// </summary>
    /// <exception cref="FileNotFoundException">An entry names a missing file, or a glob matches nothing.</exception>
    /// <exception cref="InvalidDataException">A file's extension is not one of <paramref name="extensions"/> (default: .txt, .jsonl).</exception>
    public static IReadOnlyList<string> Resolve(IEnumerable<string> patterns, string? baseDirectory = null, IReadOnlyList<string>? extensions = null)
    {
        extensions ??= Extensions;
        ArgumentNullException.ThrowIfNull(patterns);
        var root = Path.GetFullPath(baseDirectory ?? Directory.GetCurrentDirectory());
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var any = false;
        foreach (var pattern in patterns)
        {
            any = true;
            if (string.IsNullOrWhiteSpace(pattern)) throw new ArgumentException("an input path is empty");
            var matches = IsGlob(pattern) ? Glob(pattern, root) : Literal(pattern, root);
            foreach (var file in matches)
            {
                var ext = Path.GetExtension(file).ToLowerInvariant();
                if (!extensions.Contains(ext))
                    throw new InvalidDataException($"{file}: unsupported input kind '{ext}' (from '{pattern}'); expected {string.Join(" or ", extensions)} files");
                if (seen.Add(file)) result.Add(file);
            }
        }
        if (!any) throw new ArgumentException("no input paths given");
        return result;
    }

    static bool IsGlob(string p) => p.IndexOfAny(['*', '?']) >= 0;

    static IEnumerable<string> Literal(string pattern, string root)
    {
        var full = Path.GetFullPath(Path.Combine(root, pattern));
        if (!File.Exists(full))
            throw new FileNotFoundException(Directory.Exists(full)
                ? $"Input '{pattern}' is a folder; name its files, e.g. '{Path.Combine(pattern, "*.txt")}'"
                : $"Input file not found: '{pattern}' ({full})", full);
        return [full];
    }

    static IEnumerable<string> Glob(string pattern, string root)
    {
        var normalized = pattern.Replace('\\', '/');
        var parts = normalized.Split('/');
        // The folder to search from: the longest leading part without wildcards.
        var fixedCount = 0;
        while (fixedCount < parts.Length - 1 && !IsGlob(parts[fixedCount])) fixedCount++;
        var prefix = string.Join('/', parts[..fixedCount]);
        var start = Path.GetFullPath(Path.Combine(root, prefix.Length == 0 && normalized.StartsWith('/') ? "/" : prefix));
        var regex = ToRegex(parts[fixedCount..]);
        var matches = new List<string>();
        if (Directory.Exists(start))
        {
            var recursive = parts[fixedCount..].Length > 1 || parts[fixedCount..].Any(p => p == "**");
            foreach (var file in Directory.EnumerateFiles(start, "*", recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly))
            {
                var relative = Path.GetRelativePath(start, file).Replace('\\', '/');
                if (regex.IsMatch(relative)) matches.Add(Path.GetFullPath(file));
            }
        }
        if (matches.Count == 0)
            throw new FileNotFoundException($"Input pattern '{pattern}' matched no files (searched {start})", pattern);
        matches.Sort(StringComparer.Ordinal);
        return matches;
    }

    static Regex ToRegex(string[] parts)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < parts.Length; i++)
        {
            var last = i == parts.Length - 1;
            if (parts[i] == "**") { sb.Append(last ? ".*" : "(?:[^/]+/)*"); continue; }
            foreach (var c in parts[i])
                sb.Append(c switch { '*' => "[^/]*", '?' => "[^/]", _ => Regex.Escape(c.ToString()) });
            if (!last) sb.Append('/');
        }
        sb.Append('$');
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant);
    }
}
