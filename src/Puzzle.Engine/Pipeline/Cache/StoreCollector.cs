using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>
/// <c>puzzle gc</c>: frees what no given pipeline's current graph reaches. Removed are cache entries whose key is not
/// reachable, resume folders of such keys, staging folders in <c>tmp/</c> that no live job builds in, leftovers that
/// nothing reads again (<c>tmp/broken-…</c> set aside by <see cref="CacheStore.Publish"/>, <c>trash/KEY-…</c> of a
/// <see cref="CacheStore.RetireHeld"/> killed between its rename and its delete), staging leftovers
/// (<c>.NAME.tmp-PID-…</c>) of dead processes in <c>logs/</c>, <c>history/</c>, <c>runs/</c> and <c>trash/</c>, and
/// damaged entries in <c>quarantine/</c> set aside more than <see cref="QuarantineAge"/> ago (all of them when told to
/// purge): they are kept that long for inspection, never read by a run.
/// Safe beside a running pipeline: an entry, resume folder, staging folder or retired folder is removed only under its
/// key's lock (<see cref="CacheStore.TryLock"/>), so nothing a job is writing or waiting on goes; what is locked is
/// reported as busy.
/// A removal is one rename into <c>trash/</c> followed by the delete, so no reader ever sees a half-removed entry.
/// Lock files stay: deleting one races with a process waiting on it (see <see cref="CacheStore.Lock"/>), and they are empty.
/// </summary>
public static partial class StoreCollector
{
    /// <summary>One thing removed (or, in a dry run, that would be): kind is entry, resume, temporary or quarantined.</summary>
    public sealed record Freed(string Kind, string Path, string Label, long Bytes);

    /// <summary>What was left although unreachable, and why (locked by a job, a fresh temporary of unknown origin, or a
    /// damaged entry quarantined too recently).</summary>
    public sealed record Busy(string Path, string Why);

    public sealed record Result(IReadOnlyList<Freed> Removed, IReadOnlyList<Busy> Left, int KeptEntries, bool DryRun)
    {
        public long Bytes => Removed.Sum(r => r.Bytes);

        public string ToText(bool verbose = false)
        {
            var text = new StringBuilder();
            if (verbose)
                foreach (var r in Removed) text.AppendLine($"{(DryRun ? "would remove" : "removed")} {r.Kind} {r.Label}  {StoreUsage.Human(r.Bytes)}  {r.Path}");
            string Count(string kind, string one, string many)
            {
                var items = Removed.Where(r => r.Kind == kind).ToList();
                return $"{items.Count} {(items.Count == 1 ? one : many)} ({StoreUsage.Human(items.Sum(r => r.Bytes))})";
            }
            text.AppendLine($"{(DryRun ? "would remove" : "removed")} {Count("entry", "cache entry", "cache entries")}, " +
                            $"{Count("resume", "resume folder", "resume folders")}, {Count("temporary", "temporary", "temporaries")}, " +
                            $"{Count("quarantined", "quarantined entry", "quarantined entries")}: " +
                            $"{StoreUsage.Human(Bytes)} ({Bytes.ToString(CultureInfo.InvariantCulture)} bytes) {(DryRun ? "would be freed" : "freed")}");
            text.AppendLine($"kept {KeptEntries} reachable cache {(KeptEntries == 1 ? "entry" : "entries")}");
            foreach (var b in Left) text.AppendLine($"left {b.Path}: {b.Why}");
            if (DryRun) text.AppendLine("dry run: nothing was removed");
            return text.ToString();
        }
    }

    [GeneratedRegex("^[0-9a-f]{64}$")] private static partial Regex KeyName();
    [GeneratedRegex("^(?<prefix>[0-9a-f]{16})-[0-9a-f]{32}$")] private static partial Regex StagingName();
    [GeneratedRegex("^[0-9a-f]{16}-(?<when>[0-9]{8}-[0-9]{6})-[0-9a-f]{8}$")] private static partial Regex QuarantineName();

    /// <summary>A temporary in <c>tmp/</c> that no known writer names is left alone for this long (as a run's own cleanup does).</summary>
    public static readonly TimeSpan UnknownTemporaryAge = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a damaged entry stays in <c>quarantine/</c> (<see cref="CacheStore.Quarantine"/>) before gc removes it:
    /// the run that set it aside named it, and this leaves a week to look at what was wrong with it. <c>puzzle gc
    /// --purge-quarantine</c> removes them all.
    /// </summary>
    public static readonly TimeSpan QuarantineAge = TimeSpan.FromDays(7);

    /// <summary>
    /// Collects the store the sessions share, keeping every job key their graphs plan now (what <c>status</c> checks).
    /// Refuses no sessions (that would remove everything) and sessions on different stores.
    /// </summary>
    /// <param name="purgeQuarantine">remove every quarantined entry, not only those older than <see cref="QuarantineAge"/></param>
    public static Result Collect(IReadOnlyList<PipelineSession> sessions, bool dryRun, bool purgeQuarantine = false)
    {
        if (sessions.Count == 0)
            throw new ArgumentException("gc needs the pipeline specs whose entries to keep (puzzle gc pipelines/a.yaml ...): with none it would remove every entry");
        var stores = sessions.Select(s => s.Store.Root).Distinct().ToList();
        if (stores.Count > 1)
            throw new ArgumentException($"the specs use different stores ({string.Join(", ", stores)}): pass --store DIR to name the one to collect");
        if (!Directory.Exists(stores[0])) throw new DirectoryNotFoundException($"{stores[0]}: no store there (pass --store DIR)"); // as store du says
        var reachable = sessions.SelectMany(s => s.Graph.JobsFor(null)).Select(j => j.Key).ToHashSet(StringComparer.Ordinal);
        return Collect(sessions[0].Store, reachable, dryRun, purgeQuarantine);
    }

    /// <param name="reachable">every job key of the pipelines to keep</param>
    /// <param name="purgeQuarantine">remove every quarantined entry, not only those older than <see cref="QuarantineAge"/></param>
    public static Result Collect(CacheStore store, IReadOnlySet<string> reachable, bool dryRun, bool purgeQuarantine = false)
    {
        var removed = new List<Freed>();
        var left = new List<Busy>();
        var kept = 0;
        var trash = new Lazy<string>(() => NewTrash(store.Root));
        var freed = new Freeing(dryRun);
        try
        {
            var cache = Path.Combine(store.Root, "cache");
            foreach (var dir in Directory.Exists(cache) ? Directory.EnumerateDirectories(cache).SelectMany(Directory.EnumerateDirectories).ToList() : [])
            {
                var name = Path.GetFileName(dir);
                if (reachable.Contains(name)) { kept++; continue; }
                var manifest = JobManifest.TryRead(Path.Combine(dir, JobManifest.FileName));
                UnderLock(KeyName().IsMatch(name) ? [name] : [], dir, "entry", manifest is null ? "(incomplete)" : $"{manifest.Stage}/{manifest.Job}");
            }
            var resume = Path.Combine(store.Root, "resume");
            foreach (var dir in Directory.Exists(resume) ? Directory.EnumerateDirectories(resume).ToList() : [])
                if (!reachable.Contains(Path.GetFileName(dir)))
                    UnderLock(KeyName().IsMatch(Path.GetFileName(dir)) ? [Path.GetFileName(dir)] : [], dir, "resume", Path.GetFileName(dir));
            Temporaries();
            Quarantined();
        }
        finally
        {
            if (trash.IsValueCreated && Directory.Exists(trash.Value))
            {
                Directory.Delete(trash.Value, recursive: true);
                try { Directory.Delete(Path.GetDirectoryName(trash.Value)!); } catch (IOException) { } // another gc's trash is in it
            }
        }
        return new Result(removed, left, kept, dryRun);

        // takes every lock in keys (without waiting), then removes path; a held lock means a job uses it: leave it
        void UnderLock(IReadOnlyList<string> keys, string path, string kind, string label)
        {
            var held = new List<IDisposable>();
            try
            {
                foreach (var key in keys)
                {
                    if (store.TryLock(key) is { } l) held.Add(l);
                    else { left.Add(new Busy(path, $"locked by a running job ({key[..12]}); run gc again when it is done")); return; }
                }
                Remove(path, kind, label);
            }
            finally
            {
                foreach (var l in held) l.Dispose();
            }
        }

        void Remove(string path, string kind, string label)
        {
            var bytes = Directory.Exists(path) ? freed.Under(path) : StoreUsage.Length(path);
            if (!dryRun)
            {
                var target = Path.Combine(trash.Value, Guid.NewGuid().ToString("N"));
                try
                {
                    if (Directory.Exists(path)) Directory.Move(path, target);
                    else File.Move(path, target);
                }
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return; } // another cleaner took it
                if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                else File.Delete(target);
            }
            removed.Add(new Freed(kind, path, label, bytes));
        }

        void Temporaries()
        {
            var tmp = Path.Combine(store.Root, "tmp");
            foreach (var path in Directory.Exists(tmp) ? Directory.EnumerateFileSystemEntries(tmp).ToList() : [])
            {
                var name = Path.GetFileName(path);
                if (StagingName().Match(name) is { Success: true } staging)
                    // a job builds in tmp/KEY16-GUID while it holds KEY's lock: free only when no key with that prefix is locked
                    UnderLock(KeysStartingWith(store, staging.Groups["prefix"].Value), path, "temporary", "tmp/" + name);
                else if (name.StartsWith("broken-", StringComparison.Ordinal)) Remove(path, "temporary", "tmp/" + name); // set aside by Publish, never read again
                else if (DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > UnknownTemporaryAge) Remove(path, "temporary", "tmp/" + name);
                else left.Add(new Busy(path, $"a temporary younger than {UnknownTemporaryAge.TotalHours:0} h that no job's lock accounts for"));
            }
            // a killed gc's trash (top level only: what is inside was already removed from the store)
            foreach (var stale in AtomicDirectory.Stale(Path.Combine(store.Root, "trash")))
                Remove(stale, "temporary", Path.GetRelativePath(store.Root, stale));
            // a retired entry or resume folder (trash/KEY16-GUID) whose retire was killed between its rename and its
            // delete; the retiring process holds the key's lock throughout, as a job does its staging folder
            var retired = Path.Combine(store.Root, "trash");
            foreach (var path in Directory.Exists(retired) ? Directory.EnumerateDirectories(retired).ToList() : [])
                if (StagingName().Match(Path.GetFileName(path)) is { Success: true } leftover)
                    UnderLock(KeysStartingWith(store, leftover.Groups["prefix"].Value), path, "temporary", "trash/" + Path.GetFileName(path));
            foreach (var area in new[] { "logs", "history", "runs" })
            {
                var root = Path.Combine(store.Root, area);
                if (!Directory.Exists(root)) continue;
                foreach (var folder in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).Prepend(root).ToList())
                    foreach (var stale in AtomicDirectory.Stale(folder))
                        Remove(stale, "temporary", Path.GetRelativePath(store.Root, stale));
            }
        }

        // damaged entries set aside by runs: nothing reads them again, so no lock guards them (Quarantine moved each in
        // whole, under its key's lock); kept for inspection for QuarantineAge unless purging
        void Quarantined()
        {
            var quarantine = Path.Combine(store.Root, "quarantine");
            foreach (var path in Directory.Exists(quarantine) ? Directory.EnumerateDirectories(quarantine).ToList() : [])
            {
                var label = "quarantine/" + Path.GetFileName(path);
                var since = QuarantinedUtc(path);
                if (purgeQuarantine || DateTime.UtcNow - since > QuarantineAge) Remove(path, "quarantined", label);
                else
                    left.Add(new Busy(path, $"quarantined {since:yyyy-MM-dd HH:mm} UTC, kept for inspection until " +
                                            $"{since + QuarantineAge:yyyy-MM-dd HH:mm} UTC (--purge-quarantine removes it now)"));
            }
        }
    }

    /// <summary>Every key whose lock file starts with <paramref name="prefix"/> (a staging or retired folder's name
    /// holds the first 16 hex digits of its key).</summary>
    static IReadOnlyList<string> KeysStartingWith(CacheStore store, string prefix)
    {
        var locks = Path.Combine(store.Root, "locks");
        return Directory.Exists(locks)
            ? Directory.EnumerateFiles(locks, prefix + "*.lock").Select(Path.GetFileNameWithoutExtension).OfType<string>().ToList()
            : [];
    }

    /// <summary>When a quarantined folder was set aside: the UTC time in its name (<see cref="CacheStore.Quarantine"/>;
    /// the folder's own time is its entry's, since a rename keeps it), else the folder's time.</summary>
    static DateTime QuarantinedUtc(string path) =>
        QuarantineName().Match(Path.GetFileName(path)) is { Success: true } m &&
        DateTime.TryParseExact(m.Groups["when"].Value, "yyyyMMdd-HHmmss", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var when)
            ? when
            : Directory.GetLastWriteTimeUtc(path);

    /// <summary>What removing files frees: a file's data goes with its last name (hard links: entries may share an
    /// exported model's weights), counting the names this collection removed before, or would have in a dry run.</summary>
    sealed class Freeing(bool dryRun)
    {
        readonly Dictionary<(ulong, ulong), uint> _removed = [];

        public long Under(string folder)
        {
            long bytes = 0;
            IEnumerable<string> files;
            try { files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).ToList(); }
            catch (DirectoryNotFoundException) { return 0; } // removed meanwhile by another cleaner
            foreach (var file in files)
            {
                var length = StoreUsage.Length(file);
                if (FileStatus.Identify(file) is not { Links: > 1 } id) { bytes += length; continue; }
                var key = (id.Device, id.Inode);
                // a real removal has already dropped the earlier names from the link count; a dry run has not
                var gone = dryRun ? _removed.GetValueOrDefault(key) : 0u;
                if (id.Links - gone <= 1) bytes += length;
                _removed[key] = gone + 1;
            }
            return bytes;
        }
    }

    /// <summary>This process's trash folder: named as a staging folder, so a killed gc's trash is swept by the next gc.</summary>
    static string NewTrash(string root)
    {
        var parent = Path.Combine(root, "trash");
        Directory.CreateDirectory(parent);
        var path = Path.Combine(parent, AtomicDirectory.StagingName("gc", "tmp"));
        Directory.CreateDirectory(path);
        return path;
    }
}
