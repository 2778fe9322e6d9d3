using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline.Cache;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// What to say when a job or command fails on a full disk. .NET says only "No space left on device : 'PATH'", and a
/// user had to run df and du to learn how full the drive is, what of it the store holds and what frees room (a scale
/// run's Heal jobs filled a 64 GiB disk with resume checkpoints). <see cref="Explain"/> says all three in one line; the
/// CLI's error handler (so <c>puzzle job</c> and every other verb) and the in-process launcher print it after the error.
/// </summary>
public static partial class DiskFull
{
    /// <summary>How long counting the store may take: a store of many entries is walked in well under a second, but a
    /// slow or failing mount must not hold up the error it is explaining.</summary>
    public static readonly TimeSpan CountLimit = TimeSpan.FromSeconds(5);

    // Linux's errno numbers .NET gives an IOException as its HResult: ENOSPC, EDQUOT (a user's quota spent); Windows's
    // ERROR_DISK_FULL and ERROR_HANDLE_DISK_FULL as HRESULTs
    static readonly int[] FullErrors = OperatingSystem.IsWindows() ? [unchecked((int)0x80070070), unchecked((int)0x80070027)] : [28, 122];

    [GeneratedRegex(@"'(?<path>(/|[A-Za-z]:\\)[^']*)'")] private static partial Regex QuotedPath();

    /// <summary>Whether <paramref name="error"/>, or an error it wraps, is an <see cref="IOException"/> of a full disk or
    /// a spent quota.</summary>
    public static bool Is(Exception error) => Find(error) is not null;

    /// <summary>
    /// One line for a full disk: the free and total bytes of the drive that holds the path the error names (else
    /// <paramref name="storeRoot"/>), what the store holds by kind (as <c>puzzle store du</c> counts it; left out when the
    /// count fails or takes over <see cref="CountLimit"/>), and what <c>puzzle gc</c> frees. Null when
    /// <paramref name="error"/> is not a full disk.
    /// </summary>
    public static string? Explain(Exception error, string? storeRoot)
    {
        if (Find(error) is not { } full) return null;
        var parts = new List<string>();
        var path = PathIn(error) ?? storeRoot;
        if (path is not null && Drive(path) is { } drive) parts.Add(drive);
        if (storeRoot is not null && Holdings(storeRoot) is { } held) parts.Add(held);
        parts.Add("`puzzle gc PIPELINE...` frees cache entries and resume folders that no given pipeline's graph reaches, " +
                  $"leftovers in tmp/ and trash/, and entries quarantined over {StoreCollector.QuarantineAge.TotalDays:0} days ago " +
                  "(`--purge-quarantine`: all of them; `--dry-run` shows what it would free)");
        return $"{(full.HResult == 122 ? "disk quota spent" : "disk full")}: {string.Join("; ", parts)}";
    }

    static IOException? Find(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is AggregateException all) return all.InnerExceptions.Select(Find).FirstOrDefault(f => f is not null);
            if (e is IOException io && FullErrors.Contains(io.HResult)) return io;
        }
        return null;
    }

    /// <summary>The first quoted absolute path in the messages of <paramref name="error"/> and what it wraps (.NET's
    /// "No space left on device : '/path'").</summary>
    static string? PathIn(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
            if (QuotedPath().Match(e.Message) is { Success: true } m) return m.Groups["path"].Value;
        return null;
    }

    /// <summary>"12.0 MiB free of 64.00 GiB on / (where PATH is)": the mount that holds <paramref name="path"/>'s
    /// nearest existing folder (a file that could not be written is often not there); null when it cannot be asked.</summary>
    static string? Drive(string path)
    {
        try
        {
            var existing = Path.GetFullPath(path);
            while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent) existing = parent;
            var mount = DriveInfo.GetDrives().Select(d => d.Name)
                .Where(m => existing.StartsWith(m, StringComparison.Ordinal) && (existing.Length == m.Length || m.EndsWith('/') || m.EndsWith('\\') || existing[m.Length] == '/'))
                .MaxBy(m => m.Length) ?? existing;
            var drive = new DriveInfo(existing);
            return $"{ByteSize.Human(drive.AvailableFreeSpace)} free of {ByteSize.Human(drive.TotalSize)} on {mount} (where {existing} is)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return null; }
    }

    /// <summary>"the store ROOT holds 50.20 GiB: cache/ entries 30.10 GiB, resume/ 20.00 GiB, ...", largest first, empty
    /// kinds left out; null when the store cannot be counted within <see cref="CountLimit"/>.</summary>
    static string? Holdings(string storeRoot)
    {
        try
        {
            var count = Task.Run(() => StoreUsage.Measure(storeRoot));
            if (!count.Wait(CountLimit)) return null; // left to finish on its own: the process is ending
            var usage = count.Result;
            var kinds = new List<(string Name, long Bytes)> { ("cache/ entries", usage.EntryBytes), ("cache/ incomplete", usage.IncompleteCacheBytes) };
            kinds.AddRange(usage.Areas.Select(a => (a.Name, a.Bytes)));
            var shown = kinds.Where(k => k.Bytes > 0).OrderByDescending(k => k.Bytes).Select(k => $"{k.Name} {ByteSize.Human(k.Bytes)}");
            return $"the store {usage.Root} holds {ByteSize.Human(usage.TotalBytes)}: {string.Join(", ", shown)}";
        }
        catch (Exception) { return null; } // a store that cannot be counted (gone, unreadable): the rest of the line still helps
    }
}
