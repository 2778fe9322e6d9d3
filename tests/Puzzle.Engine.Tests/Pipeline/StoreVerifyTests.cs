using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary><c>puzzle verify --store</c>: full hashes of every entry; damage is listed by file and exits 1.</summary>
[Collection(nameof(ConsoleCollection))]
public class StoreVerifyTests
{
    static CacheEntry Publish(CacheStore store, string job, params (string File, byte[] Bytes)[] files)
    {
        var key = JobKey.Compute("Distill", 1, new JsonObject { ["job"] = job }, new Dictionary<string, string>(), 0);
        var staging = store.NewStaging(key);
        foreach (var (file, bytes) in files) File.WriteAllBytes(Path.Combine(staging, file), bytes);
        return store.Publish(staging, new JobManifest
        {
            Key = key, Stage = "Distill", Job = job, Version = 1, Config = new JsonObject(), Inputs = new Dictionary<string, string>(), Seed = 0,
            Files = new Dictionary<string, string>(), Metrics = new JsonObject(), StartedUtc = DateTime.UtcNow, Seconds = 0, Host = "h", Tool = "t",
        });
    }

    static void FlipByte(string path, int offset)
    {
        // same size and same mtime: only a hash can see it
        var mtime = File.GetLastWriteTimeUtc(path);
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, mtime);
    }

    [Fact]
    public void A_clean_store_passes_and_a_flipped_byte_or_a_truncated_file_is_named_with_exit_1()
    {
        using var dir = new TempDir();
        var store = new CacheStore(dir.Path);
        var weights = Publish(store, "layer0.ffn.linear", ("weights.safetensors", Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray()));
        var score = Publish(store, "score", ("result.json", "{\"kl\": 0.0123}"u8.ToArray()));

        var (exit, stdout, _) = CliRunner.Run("verify", "--store", dir.Path);
        Assert.Equal(0, exit);
        Assert.Contains("2 entries checked, 0 damaged", stdout);

        FlipByte(weights.File("weights.safetensors"), 2000);
        (exit, stdout, _) = CliRunner.Run("verify", "--store", dir.Path);
        Assert.Equal(1, exit);
        Assert.Contains("Distill/layer0.ffn.linear", stdout);
        Assert.Contains("weights.safetensors: hash differs", stdout);
        Assert.Contains("2 entries checked, 1 damaged", stdout);

        File.WriteAllBytes(weights.File("weights.safetensors"), new byte[10]);
        File.Delete(score.File("result.json"));
        (exit, stdout, _) = CliRunner.Run("verify", "--store", dir.Path);
        Assert.Equal(1, exit);
        Assert.Contains("result.json: file missing", stdout);
        Assert.Contains("2 entries checked, 2 damaged", stdout);
    }

    [Fact]
    public void A_flipped_byte_in_a_json_output_is_found_by_the_entry_check()
    {
        using var dir = new TempDir();
        var store = new CacheStore(dir.Path);
        var entry = Publish(store, "score", ("result.json", "{\"kl\": 0.0123}"u8.ToArray()));
        Assert.Empty(StoreVerifier.Check(store.Find(entry.Manifest.Key)!));
        FlipByte(entry.File("result.json"), 9);
        var damage = Assert.Single(StoreVerifier.Check(store.Find(entry.Manifest.Key)!));
        Assert.Equal(("result.json", "hash differs"), (damage.File, damage.What));
    }

    [Fact]
    public void A_folder_without_a_manifest_is_reported_and_a_missing_store_is_an_error()
    {
        using var dir = new TempDir();
        var store = new CacheStore(dir.Path);
        var orphan = store.EntryDirectory(new string('a', 64));
        Directory.CreateDirectory(orphan);
        var (exit, stdout, _) = CliRunner.Run("verify", "--store", dir.Path);
        Assert.Equal(1, exit);
        Assert.Contains("manifest.json: missing or unreadable", stdout);

        (exit, _, var stderr) = CliRunner.Run("verify", "--store", Path.Combine(dir.Path, "nope"));
        Assert.NotEqual(0, exit);
        Assert.Contains("cache store not found", stderr);
    }
}
