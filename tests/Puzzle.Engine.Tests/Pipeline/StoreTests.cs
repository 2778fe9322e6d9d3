using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

public class StoreTests
{
    static JobManifest Manifest(string key) => new()
    {
        Key = key, Stage = "S", Job = "j", Version = 1, Config = new JsonObject(), Inputs = new Dictionary<string, string>(), Seed = 0,
        Files = new Dictionary<string, string>(), Metrics = new JsonObject(), StartedUtc = DateTime.UtcNow, Seconds = 0, Host = "h", Tool = "t",
    };

    static string Key(string name) => JobKey.Compute(name, 1, new JsonObject(), new Dictionary<string, string>(), 0);

    [Fact]
    public void A_folder_without_a_complete_manifest_is_never_a_hit_and_is_replaced_on_publish()
    {
        using var dir = new TempDir();
        var store = new CacheStore(dir.Path);
        var key = Key("a");
        var entry = store.EntryDirectory(key);
        Directory.CreateDirectory(entry);
        File.WriteAllText(Path.Combine(entry, "weights.bin"), "partial");
        Assert.Null(store.Find(key));
        File.WriteAllText(Path.Combine(entry, JobManifest.FileName), "{\"key\": \"" + key[..10]); // truncated manifest
        Assert.Null(store.Find(key));

        var staging = store.NewStaging(key);
        File.WriteAllText(Path.Combine(staging, "result.txt"), "done");
        var published = store.Publish(staging, Manifest(key));
        Assert.Equal(entry, published.Directory);
        Assert.False(File.Exists(Path.Combine(entry, "weights.bin")));
        Assert.Equal(CacheStore.HashFile(Path.Combine(entry, "result.txt")), store.Find(key)!.Manifest.Files["result.txt"]);
        Assert.False(Directory.Exists(staging));
    }

    [Fact]
    public void Keys_are_canonical_and_depend_on_every_part()
    {
        var config = new JsonObject { ["b"] = 1, ["a"] = new JsonObject { ["y"] = 2.5, ["x"] = "s" } };
        var reordered = new JsonObject { ["a"] = new JsonObject { ["x"] = "s", ["y"] = 2.5 }, ["b"] = 1 };
        var inputs = new Dictionary<string, string> { ["data"] = "k1" };
        var key = JobKey.Compute("Stage", 1, config, inputs, 0);
        Assert.Equal(key, JobKey.Compute("Stage", 1, reordered, inputs, 0));
        Assert.NotEqual(key, JobKey.Compute("Other", 1, config, inputs, 0));
        Assert.NotEqual(key, JobKey.Compute("Stage", 2, config, inputs, 0));
        Assert.NotEqual(key, JobKey.Compute("Stage", 1, config, new Dictionary<string, string> { ["data"] = "k2" }, 0));
        Assert.NotEqual(key, JobKey.Compute("Stage", 1, config, inputs, 1));
        Assert.NotEqual(key, JobKey.Compute("Stage", 1, new JsonObject { ["b"] = 2, ["a"] = reordered["a"]!.DeepClone() }, inputs, 0));
    }

    [Fact]
    public void The_lock_is_exclusive_until_released()
    {
        using var dir = new TempDir();
        var store = new CacheStore(dir.Path);
        var key = Key("lock");
        using (store.Lock(key))
            Assert.ThrowsAny<IOException>(() => store.Lock(key, TimeSpan.Zero));
        using (store.Lock(key, TimeSpan.Zero)) { }
    }

    [Fact]
    public void Cleaning_staging_leaves_the_old_folder_of_a_job_that_holds_its_key()
    {
        using var dir = new TempDir();
        var store = new CacheStore(dir.Path);
        var (live, dead) = (Key("live"), Key("dead"));
        using var held = store.Lock(live);
        var building = store.NewStaging(live);
        File.WriteAllText(Path.Combine(building, "tasks.jsonl"), "written first, hours before the job publishes");
        var left = store.NewStaging(dead); // a killed job's: its lock is free
        using (store.Lock(dead)) { }
        foreach (var d in new[] { building, left }) Directory.SetLastWriteTimeUtc(d, DateTime.UtcNow - TimeSpan.FromHours(2));

        store.CleanStaging(TimeSpan.FromHours(1));

        Assert.True(File.Exists(Path.Combine(building, "tasks.jsonl")));
        Assert.False(Directory.Exists(left));
    }
}
