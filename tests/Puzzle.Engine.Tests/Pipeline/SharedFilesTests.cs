using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A job's output that holds an input's bytes (an exported child's weights are its healed weights) is a hard
/// link to the input's file: the store keeps one copy, counts it once, and gc frees it with its last name.</summary>
public class SharedFilesTests
{
    static readonly int Big = (int)CacheStore.ShareBytes * 2;

    static byte[] Bytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    static CacheEntry Publish(CacheStore store, string name, IReadOnlyDictionary<string, byte[]> files, IReadOnlyDictionary<string, string> inputs)
    {
        var key = JobKey.Compute(name, 1, new JsonObject(), inputs, 0);
        var staging = store.NewStaging(key);
        foreach (var (relative, bytes) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(staging, relative))!);
            File.WriteAllBytes(Path.Combine(staging, relative), bytes);
        }
        return store.Publish(staging, new JobManifest
        {
            Key = key, Stage = name, Job = "j", Version = 1, Config = new JsonObject(), Inputs = inputs, Seed = 0,
            Files = new Dictionary<string, string>(), Metrics = new JsonObject(), StartedUtc = DateTime.UtcNow, Seconds = 0, Host = "h", Tool = "t",
        });
    }

    [Fact]
    public void An_output_that_holds_an_inputs_bytes_shares_its_file_and_counts_once()
    {
        using var dir = new TempDir();
        var store = new CacheStore(dir.Path);
        var weights = Bytes(Big, 1);
        var small = Bytes(1000, 2);
        var heal = Publish(store, "Heal", new Dictionary<string, byte[]> { ["model/model.safetensors"] = weights, ["model/tokenizer.json"] = small }, new Dictionary<string, string>());
        var own = Bytes(Big, 3);
        var export = Publish(store, "Export", new Dictionary<string, byte[]>
        {
            ["model/model.safetensors"] = weights, ["model/tokenizer.json"] = small, ["card.bin"] = own,
        }, new Dictionary<string, string> { ["heal"] = heal.Manifest.Key });
        // an entry that does not name the Heal entry as an input gets its own copy
        var unrelated = Publish(store, "Other", new Dictionary<string, byte[]> { ["w.bin"] = weights }, new Dictionary<string, string>());

        var healed = FileStatus.Identify(heal.File("model/model.safetensors"))!.Value;
        var exported = FileStatus.Identify(export.File("model/model.safetensors"))!.Value;
        Assert.Equal(healed.Inode, exported.Inode);
        Assert.Equal(2u, exported.Links);
        Assert.Equal(1u, FileStatus.Identify(export.File("card.bin"))!.Value.Links);
        Assert.Equal(1u, FileStatus.Identify(export.File("model/tokenizer.json"))!.Value.Links); // below ShareBytes: copied
        Assert.Equal(1u, FileStatus.Identify(unrelated.File("w.bin"))!.Value.Links);
        Assert.Equal(weights, File.ReadAllBytes(export.File("model/model.safetensors")));
        Assert.Null(store.Damage(export.Manifest.Key, full: true));

        long ManifestBytes(CacheEntry e) => e.Manifest.Sizes.Values.Sum() + new FileInfo(e.File(JobManifest.FileName)).Length;
        var usage = StoreUsage.Measure(dir.Path);
        Assert.Equal(ManifestBytes(heal) + ManifestBytes(export) + ManifestBytes(unrelated) - Big, usage.EntryBytes);
        Assert.Equal(0, usage.IncompleteCacheBytes);
        Assert.Equal(Big, usage.SharedBytes);
        Assert.Contains("shared between entries by hard links", usage.ToText());

        // gc: the Export entry alone frees only what it does not share; the Heal entry then frees the weights
        var keepHeal = new HashSet<string> { heal.Manifest.Key, unrelated.Manifest.Key };
        var dry = StoreCollector.Collect(store, new HashSet<string>(), dryRun: true);
        Assert.Equal(usage.EntryBytes, dry.Removed.Where(r => r.Kind == "entry").Sum(r => r.Bytes));
        Assert.Equal(ManifestBytes(export) - Big, StoreCollector.Collect(store, keepHeal, dryRun: true).Bytes);
        Assert.Equal(ManifestBytes(export) - Big, StoreCollector.Collect(store, keepHeal, dryRun: false).Bytes);
        Assert.Equal(1u, FileStatus.Identify(heal.File("model/model.safetensors"))!.Value.Links);
        Assert.Equal(weights, File.ReadAllBytes(heal.File("model/model.safetensors")));
        Assert.Null(store.Damage(heal.Manifest.Key, full: true));
        Assert.Equal(ManifestBytes(heal), StoreCollector.Collect(store, new HashSet<string> { unrelated.Manifest.Key }, dryRun: false).Bytes);
    }
}
