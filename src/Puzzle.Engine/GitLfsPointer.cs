using System.Text;
using System.Text.RegularExpressions;

namespace Puzzle.Engine;

/// <summary>
/// A Git LFS pointer: what a model repository cloned without Git LFS holds in place of each large file (the weights,
/// often tokenizer.json), a few lines of text naming the real file's hash and size. Read as the file it stands for, it
/// fails far from the cause: a safetensors header length of 2.3e18 bytes, a tokenizer.json that is not JSON.
/// </summary>
public static partial class GitLfsPointer
{
    /// <summary>Enough of a file's start to recognise a pointer and read its size line (pointers are about 130 bytes).</summary>
    public const int StartBytes = 512;

    [GeneratedRegex(@"^size (\d+)$", RegexOptions.Multiline)]
    private static partial Regex SizeLine();

    /// <summary>Why <paramref name="path"/> cannot be read, when <paramref name="start"/> (its first bytes, up to
    /// <see cref="StartBytes"/>) shows a Git LFS pointer; otherwise null.</summary>
    public static string? Explain(string path, ReadOnlySpan<byte> start)
    {
        if (!start.StartsWith("version https://git-lfs"u8)) return null;
        var size = SizeLine().Match(Encoding.ASCII.GetString(start[..Math.Min(start.Length, StartBytes)]));
        var of = size.Success && long.TryParse(size.Groups[1].Value, out var bytes) ? $" of {bytes:N0} bytes" : "";
        return $"{path} is a Git LFS pointer to the file{of}, not the file itself: the folder was cloned without Git LFS. " +
               "Run 'git lfs install' and 'git lfs pull' in it, or download the model again with the Hugging Face CLI";
    }
}
