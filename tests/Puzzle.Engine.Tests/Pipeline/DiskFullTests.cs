using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A full disk's error says how full the drive is, what the store holds and what frees room, not only .NET's
/// "No space left on device : PATH".</summary>
public sealed class DiskFullTests
{
    const int Enoent = 2, Enospc = 28;

    /// <summary>A store with one cache entry of 1 MiB and a resume folder of 3 MiB; returns the resume file's path.</summary>
    internal static string FakeStore(string root)
    {
        var store = new CacheStore(root);
        var key = JobKey.Compute("Heal", 1, new JsonObject(), new Dictionary<string, string>(), 0);
        var staging = store.NewStaging(key);
        File.WriteAllBytes(Path.Combine(staging, "model.safetensors"), new byte[1 << 20]);
        store.Publish(staging, new JobManifest
        {
            Key = key, Stage = "Heal", Job = "j", Version = 1, Config = new JsonObject(), Inputs = new Dictionary<string, string>(), Seed = 0,
            Files = new Dictionary<string, string>(), Metrics = new JsonObject(), StartedUtc = DateTime.UtcNow, Seconds = 0, Host = "h", Tool = "t",
        });
        var resume = Directory.CreateDirectory(store.ResumeDirectory(new string('e', 64))).FullName;
        File.WriteAllBytes(Path.Combine(resume, "optimizer.safetensors"), new byte[3 << 20]);
        return Path.Combine(resume, "next", ".optimizer.safetensors.tmp-1612-5b74c36f"); // never written: the disk was full
    }

    [Fact]
    public void A_full_disk_names_the_drives_free_and_total_bytes_what_the_store_holds_and_puzzle_gc()
    {
        using var dir = new TempDir();
        var root = dir["run/.puzzle"];
        var target = FakeStore(root);
        var error = new IOException($"No space left on device : '{target}'", Enospc);

        var line = DiskFull.Explain(error, root);

        Assert.NotNull(line);
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("disk full: ", line);
        var drive = new DriveInfo(root);
        Assert.Contains($" free of {ByteSize.Human(drive.TotalSize)} on ", line);
        Assert.Contains($"(where {Path.Combine(root, "resume", new string('e', 64))} is)", line); // the nearest folder that is there
        var usage = StoreUsage.Measure(root);
        Assert.Contains($"the store {usage.Root} holds {ByteSize.Human(usage.TotalBytes)}: resume/ 3.0 MiB, cache/ entries {ByteSize.Human(usage.EntryBytes)}", line);
        Assert.Contains("`puzzle gc PIPELINE...` frees cache entries and resume folders that no given pipeline's graph reaches", line);
        Assert.Contains("--purge-quarantine", line);
        // wrapped (as the artifacts' copy wraps it), the same; with no store known, the drive and gc still
        Assert.Equal(line, DiskFull.Explain(new IOException("copying Heal/j's results failed", error), root));
        var bare = DiskFull.Explain(error, null)!;
        Assert.Contains($" free of {ByteSize.Human(drive.TotalSize)} on ", bare);
        Assert.DoesNotContain("the store", bare);
        Assert.Contains("puzzle gc", bare);
    }

    [Fact]
    public void Other_errors_are_not_a_full_disk()
    {
        using var dir = new TempDir();
        FakeStore(dir.Path);
        Assert.Null(DiskFull.Explain(new IOException($"Could not find a part of the path '{dir.Path}/x'", Enoent), dir.Path));
        Assert.Null(DiskFull.Explain(new IOException("Input/output error", 5), dir.Path));
        Assert.Null(DiskFull.Explain(new InvalidOperationException("No space left on device"), dir.Path));
        Assert.Null(DiskFull.Explain(new ArgumentException("x"), null));
    }

    [Fact]
    public void A_store_that_cannot_be_counted_leaves_out_only_what_it_holds()
    {
        using var dir = new TempDir();
        var line = DiskFull.Explain(new IOException("No space left on device", Enospc), dir["no-store-here"])!;
        Assert.Contains(" free of ", line); // the drive of the nearest folder that is there
        Assert.DoesNotContain("the store", line);
        Assert.Contains("puzzle gc", line);
    }
}
