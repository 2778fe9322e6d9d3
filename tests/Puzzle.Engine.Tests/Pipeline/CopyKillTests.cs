using System.ComponentModel;
using System.Text.Json.Nodes;
using NuGet.Common;
using NuGet.Configuration;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;
using NuGet.Versioning;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Tests.Checkpoints;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// Copies out of the store killed mid-way: the package into the feed (Publish) and a job's folder into artifacts/.
/// The kill lands at a chosen point: strace stops the process as it starts copying a named file and SIGKILLs it there
/// (the way the failure was first reproduced), so no timing decides what the kill leaves behind.
/// </summary>
[Trait("Category", "Slow")] // real processes killed mid-copy
public class CopyKillTests
{
    // modelled (roofline) costs: nothing is measured, so the run to Pack is short
    static readonly string Spec = TestRepo.MicroSpec + "\nscenario: { target: h100-sxm, batch: 2, prompt: 16, generate: 4 }\n";

    /// <summary>The CLI under strace, which SIGKILLs the process that first copies (copy_file_range) out of <paramref name="source"/>.</summary>
    static (int Exit, string Out, string Err) KilledWhileCopying(string root, string source, params string[] args)
    {
        var trace = Path.Combine(root, $"strace-{Guid.NewGuid():N}.log");
        System.Diagnostics.Process process;
        try
        {
            process = Cli.StartProcess("strace", root,
                ["-f", "-o", trace, "-e", "trace=copy_file_range", "-e", "inject=copy_file_range:signal=KILL", "-P", source, "dotnet", Cli.Dll, .. args]);
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"this test kills at a chosen syscall with strace, which did not start ({e.Message}): install it (apt-get install strace)", e);
        }
        var result = Cli.Wait(process);
        var log = File.ReadAllText(trace);
        File.Delete(trace);
        Assert.True(log.Contains("+++ killed by SIGKILL +++"), $"nothing was killed copying {source}:\n{log}\n{result.Out}{result.Err}");
        return result;
    }

    /// <summary>What a consumer's restore sees on the folder feed: the versions of <paramref name="id"/> and each one's bytes.</summary>
    static async Task<Dictionary<string, byte[]>> NuGetReads(string feed, string id)
    {
        var repository = Repository.Factory.GetCoreV3(new PackageSource(feed));
        var find = (await repository.GetResourceAsync<FindPackageByIdResource>())!;
        using var cache = new SourceCacheContext { NoCache = true, DirectDownload = true };
        var result = new Dictionary<string, byte[]>();
        foreach (var version in await find.GetAllVersionsAsync(id, cache, NullLogger.Instance, CancellationToken.None))
        {
            using var bytes = new MemoryStream();
            Assert.True(await find.CopyNupkgToStreamAsync(id, version, bytes, cache, NullLogger.Instance, CancellationToken.None));
            result[version.ToNormalizedString()] = bytes.ToArray();
        }
        return result;
    }

    static List<string> Temporaries(string folder) => Directory.EnumerateFileSystemEntries(folder, "*", SearchOption.AllDirectories)
        .Select(p => Path.GetRelativePath(folder, p)).Where(p => p.Contains(".tmp-") || p.Contains(".old-")).ToList();

    [Fact]
    public async Task Kills_while_publishing_the_package_and_copying_artifacts_leave_a_usable_feed_and_one_more_run_leaves_no_temporaries()
    {
        using var repo = new TestRepo(Spec);
        var (exit, _, err) = Cli.Run(repo.Root, "run", repo.SpecPath, "--target", "Pack");
        Assert.True(exit == 0, err);
        var session = PipelineSession.Open(repo.SpecPath);
        var pack = session.Graph.Find("Pack", "pack");
        var package = PackStage.PackagePath(session.Store.Find(pack.Key)!.Directory);
        var id = PackStage.PackageId(session.Spec);
        var version = RecordFile.Read<PackStage.PackRecord>(Path.Combine(session.Store.Find(pack.Key)!.Directory, PackStage.PackFile)).Version;
        var feed = Path.Combine(repo.Root, "artifacts", "feed");

        // 1. the Publish job killed while it copies the package into the feed (NuGet's own push left a 0-byte package
        // there, and every later run failed on the feed until someone deleted it)
        var killed = KilledWhileCopying(repo.Root, package, "run", repo.SpecPath, "--target", "Publish");
        Assert.NotEqual(0, killed.Exit);
        var left = Assert.Single(Directory.GetFileSystemEntries(feed));
        Assert.Contains(".tmp-", Path.GetFileName(left)); // the kill came mid-copy, into a temporary ...
        Assert.Empty(await NuGetReads(feed, id)); // ... that NuGet does not see: the feed reads, without the package

        // 2. the artifact copy killed mid-way (after the Publish job, now not killed, has pushed): the exported model
        // is copied again because its artifact folder is gone
        var export = session.Graph.Find("Export", "child1");
        var exported = session.Store.Find(export.Key)!.Directory;
        var artifacts = Path.Combine(repo.Root, "artifacts", "test");
        Directory.Delete(Path.Combine(artifacts, "export", "child1"), recursive: true);
        KilledWhileCopying(repo.Root, Path.Combine(exported, ExportStage.ModelFolder, "model.safetensors"), "run", repo.SpecPath, "--target", "Publish");
        Assert.Contains(Directory.GetFileSystemEntries(Path.Combine(artifacts, "export")), p => Path.GetFileName(p).StartsWith(".child1.tmp-"));
        Assert.False(Directory.Exists(Path.Combine(artifacts, "export", "child1")));

        // 3. one more run: the feed serves the package, every artifact is complete, no temporary is left anywhere
        (exit, _, err) = Cli.Run(repo.Root, "run", repo.SpecPath, "--target", "Publish");
        Assert.True(exit == 0, err);
        Assert.Equal([Path.GetFileName(package)], Directory.GetFileSystemEntries(feed).Select(Path.GetFileName));
        var served = Assert.Single(await NuGetReads(feed, id));
        Assert.Equal(version, served.Key);
        Assert.Equal(File.ReadAllBytes(package), served.Value);
        foreach (var file in Directory.EnumerateFiles(exported, "*", SearchOption.AllDirectories))
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(artifacts, "export", "child1", Path.GetRelativePath(exported, file))));
        Assert.Empty(Temporaries(Path.Combine(repo.Root, "artifacts")));
        Assert.Equal(JobState.Cached, session.Status("Publish").Single(s => s.Stage == "Publish").State);
    }

    [Fact]
    public void Copies_left_by_killed_publishers_go_even_where_nothing_is_republished()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (store, export) = ExportInStore(repo);
        Assert.Single(Artifacts.Publish(repo.Root, "test", [export], store));
        var folder = Path.Combine(repo.Root, "artifacts", "test", "export");

        // a kill after the swap left the previous copy; one before it, a new copy of a job no longer in the spec; and
        // the older NAME.tmp-PID form. A live writer's staging stays.
        var dead = AtomicWriteTests.DeadProcessId();
        string[] stale = [$".child1.old-{dead}-0123abcd", $".child2.tmp-{dead}-4567abcd", $"child3.tmp-{dead}", $"../.report.html.tmp-{dead}-89abcdef"];
        var live = $".child2.tmp-{Environment.ProcessId}-0123abcd";
        foreach (var name in stale.Append(live))
        {
            Directory.CreateDirectory(Path.Combine(folder, name));
            File.WriteAllText(Path.Combine(folder, name, "model.safetensors"), "a whole exported model");
        }

        Assert.Empty(Artifacts.Publish(repo.Root, "test", [export], store)); // child1 is current: nothing is copied again
        Assert.Equal([live, "child1"], Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(["export"], Directory.GetFileSystemEntries(Path.GetDirectoryName(folder)!).Select(Path.GetFileName));
    }

    /// <summary>A copy that fails (a full disk says only "No space left on device") names the job and the folder, and
    /// says the store has the results.</summary>
    [Fact]
    public void A_copy_to_artifacts_that_fails_names_the_job_and_the_folder()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (store, export) = ExportInStore(repo);
        Directory.CreateDirectory(Path.Combine(repo.Root, "artifacts", "test"));
        File.WriteAllText(Path.Combine(repo.Root, "artifacts", "test", "export"), "a file where the export folder goes");

        var e = Assert.ThrowsAny<IOException>(() => Artifacts.Publish(repo.Root, "test", [export], store));

        Assert.StartsWith($"copying Export/child1's results to {Path.Combine(repo.Root, "artifacts", "test", "export", "child1")} failed: ", e.Message);
        Assert.EndsWith("The store holds every result: make room (or mend the path) and run again to copy them", e.Message);
    }

    /// <summary>An Export/child1 entry in the repository's store, made by hand (an export record and nothing else).</summary>
    static (CacheStore Store, JobPlan Export) ExportInStore(TestRepo repo)
    {
        var store = new CacheStore(repo.Store);
        var planned = PipelineGraph.Plan(repo.Load(), PuzzleStages.All()).Jobs["Export"].Single(j => j.Id == "child1");
        var export = new JobPlan(new ExportStage(), "child1", planned.Config, new Dictionary<string, JobPlan>());
        var staging = store.NewStaging(export.Key);
        File.WriteAllText(Path.Combine(staging, ExportStage.ExportFile), "{}");
        store.Publish(staging, new JobManifest
        {
            Key = export.Key, Stage = "Export", Job = "child1", Version = export.Stage.Version, Config = export.ConfigJson, Inputs = export.InputKeys, Seed = 0,
            Files = new Dictionary<string, string>(), Metrics = new JsonObject(), StartedUtc = DateTime.UtcNow, Seconds = 0, Host = "test", Tool = "test",
        });
        return (store, export);
    }
}
