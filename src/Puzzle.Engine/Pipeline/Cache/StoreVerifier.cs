namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>One problem found in a store entry: which entry, which file, and what differs.</summary>
public sealed record EntryDamage(string Directory, string Stage, string Job, string File, string What)
{
    public override string ToString() => $"{Stage}/{Job} ({Directory}): {File}: {What}";
}

/// <summary>
/// Full check of published entries against their manifests: every payload file listed must exist and hash to the
/// recorded SHA-256. Reads every byte, so it is the explicit <c>puzzle verify --store</c> check, not the per-hit one.
/// </summary>
public static class StoreVerifier
{
    /// <summary>What differs between <paramref name="entry"/>'s payload and its manifest; empty when it is intact.</summary>
    public static IReadOnlyList<EntryDamage> Check(CacheEntry entry)
    {
        var m = entry.Manifest;
        var damage = new List<EntryDamage>();
        foreach (var (relative, hash) in m.Files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var path = entry.File(relative);
            if (!System.IO.File.Exists(path)) damage.Add(new(entry.Directory, m.Stage, m.Job, relative, "file missing"));
            else if (CacheStore.HashFile(path) != hash) damage.Add(new(entry.Directory, m.Stage, m.Job, relative, "hash differs"));
        }
        return damage;
    }

    /// <summary>Checks every entry folder under the store's <c>cache/</c>; returns how many entries were checked and the damage found.</summary>
    public static (int Entries, IReadOnlyList<EntryDamage> Damage) CheckStore(CacheStore store)
    {
        var cache = Path.Combine(store.Root, "cache");
        var damage = new List<EntryDamage>();
        var entries = 0;
        if (!System.IO.Directory.Exists(cache)) return (0, damage);
        foreach (var dir in System.IO.Directory.EnumerateDirectories(cache).SelectMany(System.IO.Directory.EnumerateDirectories)
                     .OrderBy(d => d, StringComparer.Ordinal))
        {
            entries++;
            var key = Path.GetFileName(dir);
            var manifest = JobManifest.TryRead(Path.Combine(dir, JobManifest.FileName));
            if (manifest is null)
                damage.Add(new(dir, "?", "?", JobManifest.FileName, "missing or unreadable (the folder is not a cache entry)"));
            else if (manifest.Key != key)
                damage.Add(new(dir, manifest.Stage, manifest.Job, JobManifest.FileName, $"records key {manifest.Key}, not the folder's key"));
            else damage.AddRange(Check(new CacheEntry(dir, manifest)));
        }
        return (entries, damage);
    }
}
