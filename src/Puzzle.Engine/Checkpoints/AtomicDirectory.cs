using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Builds a folder beside its destination and moves it into place, so the destination holds either the old complete
/// folder or the new complete one, never a half-written one. (Two renames: POSIX cannot swap folders in one step, so
/// for an instant the destination may be absent; it is never partial.) Staging names carry the writer's process id
/// (<c>.NAME.tmp-PID-GUID</c>), so a later writer can tell a killed writer's leftovers from a live one's.
/// </summary>
public static class AtomicDirectory
{
    public static void Publish(string destination, Action<string> build) => Publish(destination, build, alreadyPublished: null);

    /// <summary>
    /// Like <see cref="Publish(string, Action{string})"/>, but never replaces a folder: when the destination exists (or
    /// another writer creates it meanwhile), nothing is moved and an <see cref="IOException"/> names it.
    /// </summary>
    public static void Create(string destination, Action<string> build) =>
        Stage(destination, build, (parent, name, full, staging) =>
        {
            try { Directory.Move(staging, full); }
            catch (IOException) when (Directory.Exists(full)) { throw new IOException($"Output folder already exists: {full}"); }
        });

    /// <param name="alreadyPublished">
    /// For destinations that concurrent writers may publish with the same content: when a rename loses a race to another
    /// writer and this returns true for the destination as it now is, the loser's copy is dropped and the call succeeds.
    /// </param>
    public static void Publish(string destination, Action<string> build, Func<string, bool>? alreadyPublished) =>
        Stage(destination, build, (parent, name, full, staging) =>
        {
            // two writers swapping the same destination can each see the other's half-done swap; the retries let the
            // loser find the winner's complete folder (or finish its own swap) instead of failing the run
            for (var attempt = 1; ; attempt++)
            {
                try { Swap(parent, name, full, staging); return; }
                catch (IOException) when (alreadyPublished is not null && attempt < 20)
                {
                    if (Directory.Exists(full) && alreadyPublished(full)) return;
                }
            }
        });

    /// <summary>Builds a staging sibling of <paramref name="destination"/>, then moves it into place; the staging folder never outlives the call.</summary>
    static void Stage(string destination, Action<string> build, Action<string, string, string, string> moveIntoPlace)
    {
        var full = Path.GetFullPath(destination).TrimEnd(Path.DirectorySeparatorChar);
        var parent = Path.GetDirectoryName(full) ?? throw new CheckpointException($"{destination}: cannot save into a root folder");
        Directory.CreateDirectory(parent);
        var name = Path.GetFileName(full);
        CleanStale(parent, name);
        var staging = Path.Combine(parent, StagingName(name, "tmp"));
        Directory.CreateDirectory(staging);
        try
        {
            build(staging);
            moveIntoPlace(parent, name, full, staging);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    static void Swap(string parent, string name, string full, string staging)
    {
        if (!Directory.Exists(full)) { Directory.Move(staging, full); return; }
        var old = Path.Combine(parent, StagingName(name, "old"));
        Directory.Move(full, old);
        try { Directory.Move(staging, full); }
        catch
        {
            if (!Directory.Exists(full)) Directory.Move(old, full);
            throw;
        }
        finally
        {
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        }
    }

    internal static string StagingName(string name, string kind) => $".{name}.{kind}-{Environment.ProcessId}-{Guid.NewGuid():N}";

    /// <summary>
    /// Removes staging siblings of <paramref name="name"/> (files or folders) whose writer process is gone, so a kill
    /// mid-copy does not leave a full copy behind forever. Also removes the older <c>NAME.tmp-PID</c> form.
    /// </summary>
    public static void CleanStale(string parent, string name)
    {
        foreach (var path in Stale(parent, name)) Remove(path);
    }

    /// <summary>
    /// Removes every staging entry in <paramref name="parent"/> whose writer process is gone, whatever it was staged
    /// for: a folder whose destinations change from run to run (a job removed from the spec) is still cleaned.
    /// </summary>
    public static void CleanStale(string parent)
    {
        foreach (var path in Stale(parent)) Remove(path);
    }

    static void Remove(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else File.Delete(path);
        }
        catch (IOException) { } // another cleaner got there first
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Staging entries in <paramref name="parent"/> whose writer process is gone: siblings of <paramref name="name"/>,
    /// or of any name when it is null (what <c>puzzle gc</c> and the artifact sweep remove). None when the folder is
    /// gone (a concurrent writer may have just renamed or removed it).
    /// </summary>
    public static IEnumerable<string> Stale(string parent, string? name = null)
    {
        string[] entries;
        try { entries = Directory.GetFileSystemEntries(parent); }
        catch (DirectoryNotFoundException) { return []; }
        return entries.Where(path => WriterOf(Path.GetFileName(path), name) is { } pid && !IsAlive(pid)).ToList();
    }

    /// <summary><c>.NAME.tmp-PID-GUID</c>, <c>.NAME.old-PID-GUID</c> (<see cref="StagingName"/>), or the older <c>NAME.tmp-PID</c>.</summary>
    static readonly System.Text.RegularExpressions.Regex AnyStaging =
        new(@"^(\..+\.(tmp|old)-(?<pid>\d+)-[0-9a-f]+|.+\.tmp-(?<pid>\d+))$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    static int? WriterOf(string entry, string? name)
    {
        if (name is null)
            return AnyStaging.Match(entry) is { Success: true } m && int.TryParse(m.Groups["pid"].Value, out var any) ? any : null;
        foreach (var prefix in new[] { $".{name}.tmp-", $".{name}.old-", $"{name}.tmp-" })
        {
            if (!entry.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var rest = entry[prefix.Length..];
            var dash = rest.IndexOf('-');
            return int.TryParse(dash < 0 ? rest : rest[..dash], out var pid) ? pid : null;
        }
        return null;
    }

    static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
