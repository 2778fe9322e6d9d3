using System.Security.Cryptography;

namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>
/// The content-addressed store: <c>ROOT/cache/ab/abcdef…/</c> with <c>manifest.json</c> and the payload.
/// Jobs are written in <c>ROOT/tmp/</c> and published with one atomic rename; a per-key lock file keeps two
/// processes from doing the same job. The same root on a shared filesystem is a cache shared between machines.
/// </summary>
public sealed class CacheStore(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    public string EntryDirectory(string key) => Path.Combine(Root, "cache", key[..2], key);

    /// <summary>
    /// Creates the store's folder where it is missing and checks that a file can be written in it, before a run starts
    /// anything: a store path that names a file, or a folder that cannot be created or written, otherwise failed the
    /// run at its first log or lock with the bare system message (<c>Could not find a part of the path
    /// '/tmp/afile/logs/quick/Fetch'</c>).
    /// </summary>
    /// <exception cref="IOException">The store cannot be written; the message names it and why.</exception>
    public void EnsureWritable()
    {
        try
        {
            if (File.Exists(Root)) throw new IOException("a file is there, not a folder");
            var tmp = Directory.CreateDirectory(Path.Combine(Root, "tmp")).FullName;
            var probe = Path.Combine(tmp, $".write-check-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"the store {Root} cannot be written: {e.Message.TrimEnd('.')}; name a folder that can be written with --store", e);
        }
    }

    /// <summary>Where a job keeps state that must survive its process being killed (training checkpoints); removed
    /// once the job's entry is published.</summary>
    public string ResumeDirectory(string key) => Path.Combine(Root, "resume", key);

    /// <summary>
    /// The published entry for <paramref name="key"/>, or null. A folder without a valid manifest for that key is not
    /// an entry, nor is one whose payload files are not all there at their recorded sizes (<see cref="QuickDamage"/>).
    /// </summary>
    public CacheEntry? Find(string key)
    {
        var dir = EntryDirectory(key);
        var manifest = JobManifest.TryRead(Path.Combine(dir, JobManifest.FileName));
        if (manifest is null || manifest.Key != key) return null;
        var entry = new CacheEntry(dir, manifest);
        return QuickDamage(entry) is null ? entry : null;
    }

    /// <summary>What the cheap check finds wrong with an entry (a payload file missing, or not its recorded size), or null.</summary>
    public static string? QuickDamage(CacheEntry entry)
    {
        foreach (var relative in entry.Manifest.Files.Keys)
        {
            var file = new FileInfo(entry.File(relative));
            if (!file.Exists) return $"{relative}: file missing";
            if (entry.Manifest.Sizes.TryGetValue(relative, out var size) && file.Length != size)
                return $"{relative}: {file.Length:N0} bytes, published with {size:N0}";
        }
        return null;
    }

    /// <summary>The damage of the entry folder under <paramref name="key"/>: its manifest missing, unreadable or of
    /// another key, else the cheap check, then with <paramref name="full"/> every payload file's hash; null when intact
    /// or absent.</summary>
    /// <remarks>An entry is published whole, its manifest written before the one rename (<see cref="Publish"/>), so a
    /// folder here without a readable manifest of its key is damaged, not half-written: the run sets it aside into
    /// <c>quarantine/</c> and says so, as for a damaged payload file.</remarks>
    public string? Damage(string key, bool full)
    {
        var dir = EntryDirectory(key);
        if (!Directory.Exists(dir)) return null;
        var path = Path.Combine(dir, JobManifest.FileName);
        var manifest = JobManifest.TryRead(path);
        if (manifest is null) return $"{JobManifest.FileName}: {(File.Exists(path) ? "unreadable" : "missing")}";
        if (manifest.Key != key) return $"{JobManifest.FileName}: records key {manifest.Key}, not the folder's";
        var entry = new CacheEntry(dir, manifest);
        if (QuickDamage(entry) is { } quick) return quick;
        return full && StoreVerifier.Check(entry) is [var first, ..] ? $"{first.File}: {first.What}" : null;
    }

    /// <summary>Moves a damaged entry out of the cache into <c>ROOT/quarantine/</c> (kept for inspection, never a hit);
    /// returns where it went, or null when another process holds the key (it is rebuilding it).</summary>
    public string? Quarantine(string key)
    {
        using var held = TryLock(key);
        if (held is null || !Directory.Exists(EntryDirectory(key))) return null;
        var target = Path.Combine(Root, "quarantine", $"{key[..16]}-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        Directory.Move(EntryDirectory(key), target);
        return target;
    }

    /// <summary>
    /// Removes the entry of <paramref name="key"/> and its resume folder so that its job runs again from the start
    /// (<c>puzzle run --rerun</c>): each goes by one rename into <c>trash/</c>, then is deleted, so no reader sees half an
    /// entry. Files it shares with other entries (hard links) stay with them. False when there was no entry.
    /// </summary>
    /// <exception cref="InvalidOperationException">another process holds the key (a job building or reading it)</exception>
    public bool Retire(string key)
    {
        using var held = TryLock(key) ?? throw new InvalidOperationException($"entry {key[..12]} is in use by another run on this store; run again once it ends");
        return RetireHeld(key);
    }

    /// <summary><see cref="Retire"/> by the holder of the key's lock.</summary>
    public bool RetireHeld(string key)
    {
        var retired = false;
        foreach (var dir in new[] { EntryDirectory(key), ResumeDirectory(key) })
        {
            if (!Directory.Exists(dir)) continue;
            var trash = Path.Combine(Root, "trash", $"{key[..16]}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Path.GetDirectoryName(trash)!);
            Directory.Move(dir, trash);
            Directory.Delete(trash, recursive: true);
            retired |= dir == EntryDirectory(key);
        }
        return retired;
    }

    /// <summary>Every published entry's manifest (a folder whose manifest is missing, unreadable or of another key is
    /// passed over), with its folder.</summary>
    public IEnumerable<(string Directory, JobManifest Manifest)> Manifests()
    {
        var cache = Path.Combine(Root, "cache");
        if (!Directory.Exists(cache)) yield break;
        foreach (var dir in Directory.EnumerateDirectories(cache).SelectMany(Directory.EnumerateDirectories))
            if (JobManifest.TryRead(Path.Combine(dir, JobManifest.FileName)) is { } manifest && manifest.Key == Path.GetFileName(dir))
                yield return (dir, manifest);
    }

    /// <summary>
    /// The entries of this store built on any of <paramref name="keys"/>, directly or through other entries (by the
    /// input keys their manifests record), whichever pipeline built them; none of <paramref name="keys"/> itself. In an
    /// order in which each comes before every entry it read: the order to remove them in.
    /// </summary>
    public IReadOnlyList<JobManifest> ReadersOf(IEnumerable<string> keys)
    {
        var manifests = Manifests().Select(e => e.Manifest).ToList();
        var readers = manifests
            .SelectMany(m => m.Inputs.Values.Distinct().Select(input => (input, m)))
            .ToLookup(p => p.input, p => p.m, StringComparer.Ordinal);
        var seeds = keys.ToHashSet(StringComparer.Ordinal);
        // depth: the longest chain of reads from a seed, so that a reader is always deeper than what it read
        var depth = new Dictionary<string, (int Depth, JobManifest Manifest)>(StringComparer.Ordinal);
        var frontier = seeds.ToList();
        for (var level = 1; frontier.Count > 0; level++)
        {
            if (level > manifests.Count + 1) throw new InvalidOperationException($"{Root}: the entries' manifests read each other in a cycle");
            var next = new List<string>();
            foreach (var reader in frontier.SelectMany(k => readers[k]).Where(m => !seeds.Contains(m.Key)).DistinctBy(m => m.Key))
            {
                depth[reader.Key] = (level, reader);
                next.Add(reader.Key);
            }
            frontier = next;
        }
        return depth.Values.OrderByDescending(d => d.Depth).ThenBy(d => d.Manifest.Key, StringComparer.Ordinal).Select(d => d.Manifest).ToList();
    }

    /// <summary>A fresh private folder to build a job in.</summary>
    public string NewStaging(string key)
    {
        var dir = Path.Combine(Root, "tmp", $"{key[..16]}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// Hashes the staged payload, writes the manifest last and renames the folder into place. Call under the key's lock.
    /// </summary>
    /// <remarks>
    /// Not AtomicDirectory: the staging folder is handed to the job long before (<see cref="NewStaging"/>, under
    /// <c>tmp/</c> where <see cref="CleanStaging"/> sweeps it), the key's lock rules out a concurrent writer, and an entry
    /// already complete is kept rather than replaced, since equal keys mean equal content.
    /// </remarks>
    public CacheEntry Publish(string staging, JobManifest manifest)
    {
        var files = Directory.EnumerateFiles(staging, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(staging, f))
            .Where(f => f != JobManifest.FileName)
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToDictionary(f => f, f => HashFile(Path.Combine(staging, f)));
        manifest = manifest with { Files = files, Sizes = files.Keys.ToDictionary(f => f, f => new FileInfo(Path.Combine(staging, f)).Length) };
        ShareWithInputs(staging, manifest);
        File.WriteAllText(Path.Combine(staging, JobManifest.FileName), manifest.ToJson());
        var target = EntryDirectory(manifest.Key);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (Directory.Exists(target))
        {
            // an incomplete or damaged leftover (a killed job's partial rename cannot happen, but a hand-made folder or a
            // damaged disk can): move it aside
            if (Find(manifest.Key) is { } existing) { Directory.Delete(staging, recursive: true); return existing; }
            Directory.Move(target, Path.Combine(Root, "tmp", $"broken-{manifest.Key[..16]}-{Guid.NewGuid():N}"));
        }
        Directory.Move(staging, target);
        return new CacheEntry(target, manifest);
    }

    /// <summary>Files of at least this size that hold the same bytes as a file of an input entry are hard links to it.</summary>
    public const long ShareBytes = 64 << 10;

    /// <summary>
    /// Makes each staged file of at least <see cref="ShareBytes"/> whose bytes an input entry's file already holds (the
    /// same SHA-256 and size: an export of healed weights in their own dtype) a hard link to that file, so the store
    /// keeps one copy (<see cref="HardLinks"/>). Entries are never written once published, so sharing is safe; where no
    /// link can be made the copy stays.
    /// </summary>
    void ShareWithInputs(string staging, JobManifest manifest)
    {
        var big = manifest.Sizes.Where(p => p.Value >= ShareBytes).ToList();
        if (big.Count == 0) return;
        var held = manifest.Inputs.Values.Distinct().Select(Find).OfType<CacheEntry>()
            .SelectMany(e => e.Manifest.Files.Where(f => e.Manifest.Sizes.TryGetValue(f.Key, out var n) && n >= ShareBytes)
                .Select(f => (Id: (f.Value, e.Manifest.Sizes[f.Key]), Path: e.File(f.Key))))
            .GroupBy(f => f.Id).ToDictionary(g => g.Key, g => g.First().Path);
        foreach (var (relative, size) in big)
            if (held.TryGetValue((manifest.Files[relative], size), out var existing))
                HardLinks.TryReplace(Path.Combine(staging, relative), existing);
    }

    /// <summary>Takes the key's lock, waiting while another process holds it. Released on dispose or process death.</summary>
    public IDisposable Lock(string key, TimeSpan? wait = null)
    {
        var path = Path.Combine(Root, "locks", key + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + (wait ?? TimeSpan.FromDays(1));
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); } // kept on disk: deleting it would race with a waiter
            catch (IOException) when (DateTime.UtcNow < deadline) { Thread.Sleep(200); }
        }
    }

    /// <summary>The key's lock if no other process holds it now, else null.</summary>
    public IDisposable? TryLock(string key)
    {
        var path = Path.Combine(Root, "locks", key + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException) { return null; }
    }

    /// <summary>
    /// Removes staging folders left by killed jobs (older than <paramref name="age"/>). A staging folder whose key's lock
    /// is held belongs to a live job, however old its folder's time: a folder's time changes only when a name directly in
    /// it does, so a job that writes its first file early and its last hours later (Evaluate's task file, then its
    /// metrics) had its folder removed under it by another run starting on the store, and published what it wrote after.
    /// </summary>
    public void CleanStaging(TimeSpan age)
    {
        var tmp = Path.Combine(Root, "tmp");
        if (!Directory.Exists(tmp)) return;
        foreach (var dir in Directory.EnumerateDirectories(tmp))
        {
            if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) <= age) continue;
            var held = new List<IDisposable>();
            try
            {
                // a job takes its key's lock before it makes its staging folder (NewStaging), and holds it until published
                if (!LockStagingKeys(Path.GetFileName(dir), held)) continue;
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            finally
            {
                foreach (var l in held) l.Dispose();
            }
        }
    }

    /// <summary>Takes, without waiting, the lock of every key a staging folder's name (<c>KEY16-GUID</c>, see
    /// <see cref="NewStaging"/>) can belong to; false when one is held elsewhere (a job builds in it).</summary>
    bool LockStagingKeys(string name, List<IDisposable> held)
    {
        if (name.Length != 16 + 1 + 32 || name[16] != '-') return true; // not a job's staging folder
        var locks = Path.Combine(Root, "locks");
        if (!Directory.Exists(locks)) return true;
        foreach (var file in Directory.EnumerateFiles(locks, name[..16] + "*.lock"))
        {
            if (TryLock(Path.GetFileNameWithoutExtension(file)) is not { } l) return false;
            held.Add(l);
        }
        return true;
    }

    public static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
