using System.Globalization;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Tests.Pipeline;

namespace Puzzle.Engine.Tests.Cli;

/// <summary><c>puzzle store du</c>, <c>puzzle gc</c> and <c>puzzle log</c> through the real command line, on a throwaway store.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class StoreHousekeepingTests
{
    static HashSet<string> Keys(string specPath) =>
        PipelineSession.Open(specPath).Graph.JobsFor("Data").Select(j => j.Key).ToHashSet();

    static HashSet<string> EntriesOnDisk(string store) =>
        Directory.EnumerateDirectories(Path.Combine(store, "cache")).SelectMany(Directory.EnumerateDirectories).Select(Path.GetFileName).OfType<string>().ToHashSet();

    static long BytesOnDisk(string folder) => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    [Fact]
    public void Gc_after_a_spec_change_frees_exactly_the_unreachable_entries_and_the_changed_spec_stays_all_cached()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process").Exit);
        var before = Keys(repo.SpecPath);
        repo.Edit("seq_len: 16", "seq_len: 24");
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process").Exit);
        var after = Keys(repo.SpecPath);
        var unreachable = before.Except(after).ToHashSet();
        Assert.NotEmpty(unreachable);
        Assert.Equal(before.Union(after).ToHashSet(), EntriesOnDisk(repo.Store));
        var unreachableBytes = unreachable.Sum(k => BytesOnDisk(Path.Combine(repo.Store, "cache", k[..2], k)));
        // leftovers gc must sweep: a resume folder of an old key, a killed job's staging folder and a killed run's private log
        var oldKey = unreachable.First();
        Directory.CreateDirectory(Path.Combine(repo.Store, "resume", oldKey));
        File.WriteAllText(Path.Combine(repo.Store, "resume", oldKey, "step-10.safetensors"), "checkpoint");
        var liveResume = Path.Combine(repo.Store, "resume", after.First());
        Directory.CreateDirectory(liveResume);
        var staging = Path.Combine(repo.Store, "tmp", $"{oldKey[..16]}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        File.WriteAllText(Path.Combine(staging, "partial.bin"), "half");
        var deadLog = Path.Combine(repo.Store, "logs", "test", "Data", $".tokens.log.tmp-{int.MaxValue - 1}-{Guid.NewGuid():N}");
        File.WriteAllText(deadLog, "killed");

        var (dry, dryOut, dryErr) = CliRunner.Run("gc", repo.SpecPath, "--dry-run", "--verbose");

        Assert.True(dry == 0, dryErr);
        Assert.Contains($"would remove {unreachable.Count} cache {(unreachable.Count == 1 ? "entry" : "entries")} ({StoreUsage.Human(unreachableBytes)})", dryOut);
        Assert.Contains("1 resume folder", dryOut);
        Assert.Contains("2 temporaries", dryOut);
        Assert.Contains("dry run: nothing was removed", dryOut);
        Assert.Equal(before.Union(after).ToHashSet(), EntriesOnDisk(repo.Store));
        Assert.True(Directory.Exists(staging) && File.Exists(deadLog) && Directory.Exists(Path.Combine(repo.Store, "resume", oldKey)));

        // an entry locked by a running job is left, and named
        var store = new CacheStore(repo.Store);
        using (store.TryLock(oldKey) ?? throw new InvalidOperationException("lock taken"))
        {
            var (_, lockedOut, _) = CliRunner.Run("gc", repo.SpecPath);
            Assert.Contains($"left {Path.Combine(repo.Store, "cache", oldKey[..2], oldKey)}: locked by a running job", lockedOut);
            Assert.Contains(oldKey, EntriesOnDisk(repo.Store));
        }

        var (exit, output, err) = CliRunner.Run("gc", repo.SpecPath);

        Assert.True(exit == 0, err);
        Assert.Equal(after, EntriesOnDisk(repo.Store));
        Assert.False(Directory.Exists(staging) || File.Exists(deadLog) || Directory.Exists(Path.Combine(repo.Store, "resume", oldKey)));
        Assert.True(Directory.Exists(liveResume), "a reachable key's resume folder stays");
        Assert.False(Directory.Exists(Path.Combine(repo.Store, "trash")), "gc removes its trash when done");
        Assert.Contains($"kept {after.Count} reachable cache {(after.Count == 1 ? "entry" : "entries")}", output);
        var (rerun, rerunOut, rerunErr) = CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process");
        Assert.True(rerun == 0, rerunErr);
        Assert.StartsWith($"test: 0 ran, {after.Count} cached, 0 failed", rerunOut);
        var (again, againOut, _) = CliRunner.Run("gc", repo.SpecPath);
        Assert.Equal(0, again);
        Assert.StartsWith("removed 0 cache entries (0 B), 0 resume folders (0 B), 0 temporaries (0 B), 0 quarantined entries (0 B): 0 B (0 bytes) freed", againOut);
    }

    [Fact]
    public void Gc_frees_a_killed_retires_trash_broken_leftovers_and_entries_quarantined_over_a_week_ago_and_leaves_what_is_held_or_recent()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process").Exit);
        var graph = PipelineSession.Open(repo.SpecPath).Graph;
        var (tokenizer, tokens) = (graph.Find("Tokenizer", "tokenizer").Key, graph.Find("Data", "tokens").Key);
        var store = new CacheStore(repo.Store);
        string Leftover(string area, string name)
        {
            var dir = Directory.CreateDirectory(Path.Combine(repo.Store, area, name)).FullName;
            File.WriteAllText(Path.Combine(dir, "payload.bin"), new string('x', 1000));
            return dir;
        }
        // a --rerun retire killed between its rename and its delete, one whose retire still runs (its key held), and
        // an incomplete entry Publish moved aside
        var retired = Leftover("trash", $"{tokens[..16]}-{Guid.NewGuid():N}");
        var retiring = Leftover("trash", $"{tokenizer[..16]}-{Guid.NewGuid():N}");
        var broken = Leftover("tmp", $"broken-{tokens[..16]}-{Guid.NewGuid():N}");
        // two damaged entries set aside by runs: one eight days ago, one now (its folder's own time is its entry's, old)
        var recent = store.Quarantine(tokenizer)!;
        Directory.SetLastWriteTimeUtc(recent, DateTime.UtcNow.AddDays(-30));
        var quarantined = store.Quarantine(tokens)!; // KEY16-yyyyMMdd-HHmmss-GUID8: dated eight days back
        var old = Path.Combine(Path.GetDirectoryName(quarantined)!,
            $"{tokens[..16]}-{DateTime.UtcNow.AddDays(-8).ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{Path.GetFileName(quarantined)[^8..]}");
        Directory.Move(quarantined, old);
        var oldBytes = BytesOnDisk(old);

        var (_, dryOut, _) = CliRunner.Run("gc", repo.SpecPath, "--dry-run", "--verbose");
        Assert.Contains($"would remove quarantined quarantine/{Path.GetFileName(old)}", dryOut);
        Assert.Contains($"would remove temporary trash/{Path.GetFileName(retired)}", dryOut);
        Assert.True(Directory.Exists(old) && Directory.Exists(retired) && Directory.Exists(broken));

        string output;
        using (store.TryLock(tokenizer) ?? throw new InvalidOperationException("lock taken"))
        {
            var (exit, said, err) = CliRunner.Run("gc", repo.SpecPath);
            Assert.True(exit == 0, err);
            output = said;
        }

        Assert.False(Directory.Exists(retired) || Directory.Exists(broken) || Directory.Exists(old));
        Assert.Contains($"2 temporaries ({StoreUsage.Human(2000)}), 1 quarantined entry ({StoreUsage.Human(oldBytes)})", output);
        Assert.True(Directory.Exists(retiring), "a retire that holds its key's lock is not raced");
        Assert.Contains($"left {retiring}: locked by a running job", output);
        Assert.True(Directory.Exists(recent), "a damaged entry quarantined now is kept for inspection");
        Assert.Contains($"left {recent}: quarantined ", output);
        Assert.Contains("(--purge-quarantine removes it now)", output);

        var (purged, purgeOut, purgeErr) = CliRunner.Run("gc", repo.SpecPath, "--purge-quarantine");
        Assert.True(purged == 0, purgeErr);
        Assert.False(Directory.Exists(recent) || Directory.Exists(retiring));
        Assert.Contains("1 temporary", purgeOut);
        Assert.Contains("1 quarantined entry", purgeOut);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(repo.Store, "quarantine")));
        Assert.False(Directory.Exists(Path.Combine(repo.Store, "trash")));
    }

    [Fact]
    public void Gc_without_a_spec_refuses_and_removes_nothing()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Directory.CreateDirectory(Path.Combine(repo.Store, "cache", "ab", new string('a', 64)));

        var (exit, _, err) = CliRunner.Run("gc", "--store", repo.Store);

        Assert.Equal(1, exit);
        Assert.Contains("gc needs the pipeline specs whose entries to keep", err);
        Assert.True(Directory.Exists(Path.Combine(repo.Store, "cache", "ab", new string('a', 64))));

        // a store that is not there is said to be missing, as store du says, not collected as empty
        var missing = Path.Combine(repo.Root, "nostore");
        (exit, _, err) = CliRunner.Run("gc", repo.SpecPath, "--store", missing);
        Assert.Equal(1, exit);
        Assert.Contains($"{missing}: no store there", err);
        Assert.False(Directory.Exists(missing));
    }

    [Fact]
    public void Two_specs_of_one_name_in_a_repository_are_warned_of_and_the_same_spec_run_again_is_not()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var twin = Path.Combine(repo.Root, "pipelines", "copy.yaml");
        File.Copy(repo.SpecPath, twin); // name: test, as the first

        (int Exit, string Said) Run(string spec)
        {
            var (exit, output, error) = CliRunner.Run("run", spec, "--target", "Tokenizer", "--in-process");
            return (exit, output + error);
        }
        var (first, firstOut) = Run(repo.SpecPath);
        var (again, againOut) = Run(repo.SpecPath);
        var (copy, copyOut) = Run(twin);

        Assert.Equal((0, 0, 0), (first, again, copy));
        Assert.DoesNotContain("warning:", firstOut + againOut);
        Assert.Contains("warning: pipelines/copy.yaml and pipelines/test.yaml are both named 'test': they share artifacts/test/", copyOut);

        // once the other file is gone (renamed), the name is this one's without a word
        File.Delete(repo.SpecPath);
        Assert.DoesNotContain("warning:", Run(twin).Said);
    }

    [Fact]
    public void Du_lists_shared_entries_under_each_pipeline_counts_them_once_and_adds_up_to_the_bytes_on_disk()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process").Exit);
        var twin = Path.Combine(repo.Root, "pipelines", "twin.yaml");
        File.WriteAllText(twin, File.ReadAllText(repo.SpecPath).Replace("name: test", "name: twin"));
        Assert.Equal(0, CliRunner.Run("run", twin, "--target", "Data", "--in-process").Exit); // the same keys: all cached
        var entries = EntriesOnDisk(repo.Store);

        var (exit, output, err) = CliRunner.Run("store", "du", "--store", repo.Store, "--bytes");

        Assert.True(exit == 0, err);
        var rows = output.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        long Size(string[] row) => long.Parse(row[^1], CultureInfo.InvariantCulture);
        var cacheBytes = entries.Sum(k => BytesOnDisk(Path.Combine(repo.Store, "cache", k[..2], k)));
        foreach (var pipeline in new[] { "test", "twin" })
        {
            var total = rows.Single(r => r[0] == pipeline && r[1] == "total");
            Assert.Equal(entries.Count.ToString(CultureInfo.InvariantCulture), total[2]);
            Assert.Equal(cacheBytes, Size(total));
            Assert.Equal(Size(total), rows.Where(r => r[0] == pipeline && r[1] != "total").Sum(Size));
        }
        var cache = rows.Single(r => r[0] == "cache/" && r[1] == "entries");
        Assert.Equal(cacheBytes, Size(cache));
        var areas = rows.Where(r => r.Length == 2 && r[0].EndsWith('/')).ToList();
        Assert.Contains(areas, r => r[0] == "logs/" && Size(r) == BytesOnDisk(Path.Combine(repo.Store, "logs")));
        var storeTotal = Size(rows.Single(r => r[0] == "total"));
        Assert.Equal(BytesOnDisk(repo.Store), storeTotal);
        Assert.Equal(storeTotal, Size(cache) + areas.Sum(Size));
        Assert.DoesNotContain(rows, r => r[0] == StoreUsage.Unattributed);

        var (_, human, _) = CliRunner.Run("store", "du", "--store", repo.Store);
        Assert.Matches(@"\ntotal\s+\d+(\.\d)? (B|KiB|MiB)\n", human.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Log_prints_the_jobs_last_log_says_when_a_later_attempt_failed_and_suggests_a_mistyped_job()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process").Exit);
        var log = Path.Combine(repo.Store, "logs", "test", "Data", "tokens.log");

        var (exit, output, err) = CliRunner.Run("log", repo.SpecPath, "Data/tokens");

        Assert.True(exit == 0, err);
        Assert.NotEmpty(output);
        Assert.Equal(File.ReadAllText(log), output);
        Assert.Empty(err);

        var failed = Path.Combine(repo.Store, "logs", "test", "Data", "tokens.failed.log");
        File.WriteAllText(failed, "error: the disk is full\n");
        File.SetLastWriteTimeUtc(failed, File.GetLastWriteTimeUtc(log).AddMinutes(1));
        var (_, newest, note) = CliRunner.Run("log", repo.SpecPath, "Data/tokens");
        Assert.Equal("error: the disk is full\n", newest);
        Assert.Contains("note: the last attempt of Data/tokens failed", note);
        Assert.Equal(File.ReadAllText(log), CliRunner.Run("log", repo.SpecPath, "Data/tokens", "--built").Out);

        var (bad, _, badErr) = CliRunner.Run("log", repo.SpecPath, "Data/token");
        Assert.Equal(1, bad);
        Assert.Contains("stage Data has no job 'token'", badErr);
        Assert.Contains("(did you mean 'Data/tokens'?)", badErr);
        var (never, _, neverErr) = CliRunner.Run("log", repo.SpecPath, "Heal/child1");
        Assert.Equal(1, never);
        Assert.Contains("Heal/child1 has no log yet", neverErr);
        var (stage, _, stageErr) = CliRunner.Run("log", repo.SpecPath, "Dta/tokens");
        Assert.Equal(1, stage);
        Assert.Contains("did you mean 'Data'?", stageErr);
    }
}
