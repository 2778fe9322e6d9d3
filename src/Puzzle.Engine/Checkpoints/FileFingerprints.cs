using System.Security.Cryptography;
using System.Text.Json;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// SHA-256 of files too large to hash on every plan (a user's 140 GB checkpoint), remembered by what the file system
/// says about them, as DVC does: full path, size, last write time, creation time and, on Linux, the inode and its change
/// time. A file hashed once is not read again until one of those changes. A replaced or rewritten file always changes
/// them: an edit in place that keeps the size and sets the last write time back (<c>touch -r</c>) still moves the
/// change time, which nothing can set back. The memo is one JSON file in
/// <c>$PUZZLE_HASH_CACHE</c>, else <c>$XDG_CACHE_HOME/puzzle</c>, else <c>~/.cache/puzzle</c>; it is only a cache:
/// deleting it costs one more read of each file.
/// </summary>
public static class FileFingerprints
{
    const string MemoFile = "file-sha256.json";
    static readonly Lock Gate = new();
    static Dictionary<string, string>? _memo;
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Reads = new();

    /// <summary>How many times this process has read <paramref name="path"/> to hash it (a memo hit reads nothing).</summary>
    internal static int TimesRead(string path) => Reads.GetValueOrDefault(Path.GetFullPath(path));

    public static string Sha256(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        if (!info.Exists) throw new FileNotFoundException($"{info.FullName}: not found", info.FullName);
        var stamp = $"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}|{info.CreationTimeUtc.Ticks}" +
                    (FileStatus.Identify(info.FullName) is { } id ? $"|{id.Inode}|{id.ChangeTime}" : "");
        lock (Gate)
        {
            _memo ??= Load();
            if (_memo.TryGetValue(stamp, out var known)) return known;
        }
        string hash;
        using (var stream = info.OpenRead()) hash = Convert.ToHexStringLower(SHA256.HashData(stream));
        Reads.AddOrUpdate(info.FullName, 1, (_, n) => n + 1);
        lock (Gate)
        {
            _memo![stamp] = hash;
            Save(_memo);
        }
        return hash;
    }

    static string Folder()
    {
        if (Environment.GetEnvironmentVariable("PUZZLE_HASH_CACHE") is { Length: > 0 } own) return own;
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "puzzle");
    }

    static Dictionary<string, string> Load()
    {
        var path = Path.Combine(Folder(), MemoFile);
        try { return File.Exists(path) ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? [] : []; }
        catch (JsonException) { return []; } // a damaged memo is only a cache: start again
    }

    static void Save(Dictionary<string, string> memo)
    {
        try
        {
            Directory.CreateDirectory(Folder());
            // another process may have remembered other files meanwhile: keep theirs too
            foreach (var (k, v) in Load()) memo.TryAdd(k, v);
            AtomicFile.WriteAllText(Path.Combine(Folder(), MemoFile), JsonSerializer.Serialize(memo));
        }
        catch (IOException) { } // an unwritable cache folder costs a re-hash next time, nothing else
        catch (UnauthorizedAccessException) { }
    }
}
