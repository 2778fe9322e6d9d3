using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>
/// <c>puzzle store du</c>: what a store holds, per pipeline and stage. The store does not file entries by pipeline (one
/// entry can serve several), so an entry belongs to every pipeline whose job history (<c>history/PIPELINE/</c>: the key
/// each job was last published as) or run records (<c>runs/PIPELINE/</c>: every key a run used, older ones included)
/// name its key; its stage is the one its manifest names. Entries no pipeline names are shown under
/// <see cref="Unattributed"/>. Sizes are apparent file sizes, and every file under the store is counted exactly once
/// in <see cref="TotalBytes"/>: cache entries once however many pipelines share them, the other top-level folders
/// (logs, tmp, resume, runs, history, locks, anything else) as areas. A file whose data entries share (a hard link the
/// store made: <see cref="CacheStore.ShareBytes"/>) counts once, in the entry built first.
/// </summary>
public sealed record StoreUsage(
    string Root,
    IReadOnlyList<StoreUsage.StageRow> Stages,
    int Entries,
    long EntryBytes,
    long IncompleteCacheBytes,
    IReadOnlyList<StoreUsage.Area> Areas,
    long TotalBytes)
{
    /// <summary>The bytes that entries' hard links to one another did not store again (counted once in the sizes).</summary>
    public long SharedBytes { get; init; }

    public const string Unattributed = "(none)";

    /// <param name="Pipeline">a pipeline name, or <see cref="Unattributed"/></param>
    public sealed record StageRow(string Pipeline, string Stage, int Entries, long Bytes);

    /// <summary>A top-level folder (or file) of the store other than <c>cache/</c>.</summary>
    public sealed record Area(string Name, long Bytes);

    public static StoreUsage Measure(string root, IReadOnlyList<string>? stageOrder = null)
    {
        root = Path.GetFullPath(root);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"{root}: no store there (pass --store DIR)");
        var entries = new List<(string Key, string Stage, long Bytes)>();
        long cacheBytes = 0, shared = 0;
        var cache = Path.Combine(root, "cache");
        if (Directory.Exists(cache))
        {
            var cacheTally = new HardLinks.Tally();
            cacheBytes = cacheTally.AddUnder(cache);
            shared = cacheTally.Shared;
            var manifests = new CacheStore(root).Manifests()
                .OrderBy(e => e.Manifest.StartedUtc).ThenBy(e => e.Directory, StringComparer.Ordinal).ToList();
            var tally = new HardLinks.Tally(); // data that entries share counts in the one built first
            entries.AddRange(manifests.Select(e => (e.Manifest.Key, e.Manifest.Stage, tally.AddUnder(e.Directory))));
        }
        var owners = KeysByPipeline(root);
        var order = (stageOrder ?? []).ToList();
        int Rank(string stage) => order.IndexOf(stage) is var i and >= 0 ? i : order.Count;
        var rows = owners.OrderBy(p => p.Key, StringComparer.Ordinal)
            .SelectMany(p => Rows(p.Key, entries.Where(e => p.Value.Contains(e.Key))))
            .Concat(Rows(Unattributed, entries.Where(e => !owners.Values.Any(keys => keys.Contains(e.Key)))))
            .ToList();
        var areas = Directory.EnumerateFileSystemEntries(root).Where(p => Path.GetFileName(p) != "cache")
            .OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => new Area(Path.GetFileName(p) + (Directory.Exists(p) ? "/" : ""), Directory.Exists(p) ? BytesUnder(p) : Length(p)))
            .ToList();
        var entryBytes = entries.Sum(e => e.Bytes);
        return new StoreUsage(root, rows, entries.Count, entryBytes, cacheBytes - entryBytes, areas, cacheBytes + areas.Sum(a => a.Bytes))
        {
            SharedBytes = shared,
        };

        IEnumerable<StageRow> Rows(string pipeline, IEnumerable<(string Key, string Stage, long Bytes)> mine) =>
            mine.GroupBy(e => e.Stage).OrderBy(g => Rank(g.Key)).ThenBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new StageRow(pipeline, g.Key, g.Count(), g.Sum(e => e.Bytes)));
    }

    /// <summary>Every key each pipeline's job history and run records name.</summary>
    static Dictionary<string, HashSet<string>> KeysByPipeline(string root)
    {
        var owners = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var (area, read) in new (string, Func<string, IEnumerable<string>>)[]
                 {
                     ("history", text => JsonSerializer.Deserialize<JobHistory.Entry>(text, JobManifest.Json) is { } entry ? [entry.Key] : []),
                     ("runs", text => Execution.RunSummary.Parse(text).Jobs.Select(j => j.Key)),
                 })
        {
            var folder = Path.Combine(root, area);
            if (!Directory.Exists(folder)) continue;
            foreach (var pipeline in Directory.EnumerateDirectories(folder))
            {
                var keys = owners.TryGetValue(Path.GetFileName(pipeline), out var k) ? k : owners[Path.GetFileName(pipeline)] = [];
                foreach (var file in Directory.EnumerateFiles(pipeline, "*.json", SearchOption.AllDirectories))
                {
                    try
                    {
                        keys.UnionWith(read(File.ReadAllText(file)));
                    }
                    catch (Exception e) when (e is JsonException or InvalidOperationException or IOException) { } // a record being replaced, or not ours
                }
            }
        }
        return owners;
    }

    /// <summary>
    /// Aligned plain columns: one row per pipeline and stage with a total per pipeline, then the cache counted once, the
    /// other areas, and the store's total. <paramref name="exactBytes"/> prints byte counts instead of KiB/MiB/GiB.
    /// </summary>
    public string ToText(bool exactBytes = false)
    {
        string Size(long b) => exactBytes ? b.ToString(CultureInfo.InvariantCulture) : Human(b);
        var rows = new List<string[]> { new[] { "pipeline", "stage", "entries", "size" } };
        foreach (var pipeline in Stages.GroupBy(r => r.Pipeline))
        {
            rows.AddRange(pipeline.Select(r => new[] { r.Pipeline, r.Stage, r.Entries.ToString(CultureInfo.InvariantCulture), Size(r.Bytes) }));
            rows.Add([pipeline.Key, "total", pipeline.Sum(r => r.Entries).ToString(CultureInfo.InvariantCulture), Size(pipeline.Sum(r => r.Bytes))]);
        }
        rows.Add(["cache/", "entries", Entries.ToString(CultureInfo.InvariantCulture), Size(EntryBytes)]);
        if (IncompleteCacheBytes > 0) rows.Add(["cache/", "incomplete", "", Size(IncompleteCacheBytes)]);
        rows.AddRange(Areas.Select(a => new[] { a.Name, "", "", Size(a.Bytes) }));
        rows.Add(["total", "", "", Size(TotalBytes)]);
        var text = $"store {Root}\n" + Execution.StatusText.Columns(rows, rightAligned: [2, 3]);
        text += "(an entry that several pipelines use is listed under each; cache/ entries and total count it once)\n";
        if (SharedBytes > 0)
            text += $"({Size(SharedBytes)} more is shared between entries by hard links, such as an export's weights with its Heal entry's: counted once, in the entry built first)\n";
        return Stages.Any(r => r.Pipeline == Unattributed)
            ? text + $"({Unattributed}: entries that no pipeline's job history or run records name; puzzle gc removes them)\n"
            : text;
    }

    /// <summary>Apparent size of every file under <paramref name="folder"/>; files that vanish meanwhile count 0.</summary>
    public static long BytesUnder(string folder)
    {
        try { return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(Length); }
        catch (DirectoryNotFoundException) { return 0; } // published or removed meanwhile by a concurrent run
    }

    internal static long Length(string file)
    {
        try { return new FileInfo(file).Length; }
        catch (FileNotFoundException) { return 0; }
    }

    /// <summary>A size as people read it: 512 B, 1.5 KiB, 12.3 MiB, 4.20 GiB (<see cref="ByteSize.Human"/>).</summary>
    public static string Human(long bytes) => ByteSize.Human(bytes);
}
