using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Export and Pack around a rank the search did not fill, on hand-made upstream entries.</summary>
public class ShipStagesTests
{
    static JobPlan Publish(CacheStore store, JobPlan plan, IReadOnlyDictionary<string, string> files, Action<string>? fill = null)
    {
        var staging = store.NewStaging(plan.Key);
        foreach (var (name, text) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(staging, name))!);
            File.WriteAllText(Path.Combine(staging, name), text);
        }
        fill?.Invoke(staging);
        store.Publish(staging, new JobManifest
        {
            Key = plan.Key, Stage = plan.Stage.Name, Job = plan.Id, Version = plan.Stage.Version, Config = plan.ConfigJson, Inputs = plan.InputKeys,
            Seed = 0, Files = new Dictionary<string, string>(), Metrics = new JsonObject(), StartedUtc = DateTime.UtcNow, Seconds = 0,
            Host = "test", Tool = "test",
        });
        return plan;
    }

    [Fact]
    public void A_rank_the_search_did_not_fill_exports_nothing_and_packing_it_says_why()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec + "\nsearch: { solutions: 2 }\npack: { child: 2 }\n");
        var spec = repo.Load();
        var store = new CacheStore(repo.Store);
        var history = new JobHistory(store.Root, spec.Name);
        var graph = PipelineGraph.Plan(spec, PuzzleStages.All());
        object Config(string stage, string id) => graph.Jobs[stage].Single(j => j.Id == id).Config;
        var heal = Publish(store, new JobPlan(new HealStage(), "child2", Config("Heal", "child2"), new Dictionary<string, JobPlan>()),
            new Dictionary<string, string> { [HealStage.HealFile] = """{"name": "child2", "kind": "child", "skipped": "the search found 1 architecture(s), not 2"}""" });
        var report = Publish(store, new JobPlan(new ReportStage(), "report", Config("Report", "report"), new Dictionary<string, JobPlan>()),
            new Dictionary<string, string> { [ReportStage.JsonFile] = """{"pipeline": "test", "models": [{"name": "parent", "kind": "parent", "top1": 0.2}]}""" });

        var export = new JobPlan(new ExportStage(), "child2", Config("Export", "child2"), new Dictionary<string, JobPlan> { ["heal"] = heal, ["report"] = report });
        var (entry, ran) = JobRunner.Run(export, spec, store, history, TextWriter.Null, 1);
        Assert.True(ran);
        Assert.False(Directory.Exists(entry.File(ExportStage.ModelFolder)));
        Assert.Equal("the search found 1 architecture(s), not 2", ExportStage.Read(entry.Directory).Skipped);

        var pack = new JobPlan(new PackStage(), "pack", Config("Pack", "pack"), new Dictionary<string, JobPlan> { ["export"] = export, ["report"] = report });
        var e = Assert.Throws<InvalidOperationException>(() => JobRunner.Run(pack, spec, store, history, TextWriter.Null, 1));
        Assert.Contains("pack.child 2: child2 has no model (the search found 1 architecture(s), not 2)", e.Message);
        Assert.Null(store.Find(pack.Key));
    }

    /// <summary>The export goes with the parent's generation_config.json (sampling defaults, stop ids), which serving
    /// engines apply, whatever the Heal job's folder holds.</summary>
    [Fact]
    public void An_export_carries_the_parents_generation_config()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (spec, store, graph, export, _) = ExportOfAHandMadeChild(repo);
        var (entry, _) = JobRunner.Run(export, spec, store, new JobHistory(store.Root, spec.Name), TextWriter.Null, 1);

        Assert.Equal(JsonNode.Parse(Sampling)!.ToJsonString(), JsonNode.Parse(File.ReadAllText(entry.File($"{ExportStage.ModelFolder}/generation_config.json")))!.ToJsonString());
        Assert.Equal("Parent/parent", graph.Jobs["Export"].Single().Inputs["parent"].Name);
    }

    /// <summary>A package made from cached entries names, for every job, the tool, host and CPU that built it (its
    /// manifest's), not only the Pack process's: the weights may come from another machine or other code.</summary>
    [Fact]
    public void The_provenance_names_the_tool_host_and_cpu_of_each_job_not_only_the_packs()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (spec, store, graph, export, report) = ExportOfAHandMadeChild(repo);
        var history = new JobHistory(store.Root, spec.Name);
        JobRunner.Run(export, spec, store, history, TextWriter.Null, 1);
        var pack = new JobPlan(new PackStage(), "pack", graph.Jobs["Pack"].Single().Config,
            new Dictionary<string, JobPlan> { ["export"] = export, ["report"] = report });

        var (entry, _) = JobRunner.Run(pack, spec, store, history, TextWriter.Null, 1);

        using var zip = System.IO.Compression.ZipFile.OpenRead(PackStage.PackagePath(entry.Directory));
        using var reader = new StreamReader(zip.GetEntry("puzzle/provenance.json")!.Open());
        var jobs = JsonNode.Parse(reader.ReadToEnd())!["jobs"]!.AsArray().ToDictionary(j => $"{j!["stage"]}/{j["job"]}", j => j!);
        Assert.Equal(("test", "test"), ((string?)jobs["Heal/child1"]["tool"], (string?)jobs["Heal/child1"]["host"])); // built elsewhere
        Assert.Null((string?)jobs["Heal/child1"]["cpu"]); // a manifest from before the field
        foreach (var job in new[] { "Export/child1", "Pack/pack" })
        {
            Assert.Equal(Engine.Packaging.BuildFacts.ToolVersion, (string?)jobs[job]["tool"]);
            Assert.Equal(Environment.MachineName, (string?)jobs[job]["host"]);
            Assert.Equal(Engine.Packaging.BuildFacts.Cpu(), (string?)jobs[job]["cpu"]);
        }
    }

    const string Sampling = """{"bos_token_id": 1, "do_sample": true, "eos_token_id": [2, 7], "temperature": 0.6, "top_p": 0.9}""";

    /// <summary>Hand-made Parent, Heal (a real child checkpoint) and Report entries, built by host "test" with tool
    /// "test", and the Export job of child1 reading them.</summary>
    static (Engine.Pipeline.Spec.PipelineSpec Spec, CacheStore Store, PipelineGraph Graph, JobPlan Export, JobPlan Report) ExportOfAHandMadeChild(TestRepo repo)
    {
        var spec = repo.Load();
        var store = new CacheStore(repo.Store);
        var graph = PipelineGraph.Plan(spec, PuzzleStages.All());
        object Config(string stage, string id) => graph.Jobs[stage].Single(j => j.Id == id).Config;
        var none = new Dictionary<string, JobPlan>();
        var parent = Publish(store, new JobPlan(new ParentStage(), "parent", Config("Parent", "parent"), none),
            new Dictionary<string, string> { [$"{ParentStage.ModelFolder}/generation_config.json"] = Sampling });
        var heal = Publish(store, new JobPlan(new HealStage(), "child1", Config("Heal", "child1"), none),
            new Dictionary<string, string> { [HealStage.HealFile] = """{"name": "child1", "kind": "child"}""" },
            staging => Export.ExportTestSupport.WriteChild(Path.Combine(staging, HealStage.ModelFolder),
                Checkpoints.CheckpointTestSupport.Homogeneous() with { BosTokenId = 1, EosTokenId = 2 }));
        var report = Publish(store, new JobPlan(new ReportStage(), "report", Config("Report", "report"), none),
            new Dictionary<string, string>
            {
                [ReportStage.JsonFile] = """{"pipeline": "test", "models": [{"name": "parent", "kind": "parent", "top1": 0.2}, {"name": "child1", "kind": "child", "top1": 0.19}]}""",
            });
        var export = new JobPlan(new ExportStage(), "child1", Config("Export", "child1"), new Dictionary<string, JobPlan> { ["parent"] = parent, ["heal"] = heal, ["report"] = report });
        return (spec, store, graph, export, report);
    }

    [Fact]
    public void The_stages_plan_one_export_per_rank_one_pack_of_the_chosen_child_and_one_publish()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec + "\nsearch: { solutions: 2 }\npack: { child: 2, version: 1.2.3 }\n");
        var graph = PipelineGraph.Plan(repo.Load(), PuzzleStages.All());
        Assert.Equal(["child1", "child2"], graph.Jobs["Export"].Select(j => j.Id));
        var pack = Assert.Single(graph.Jobs["Pack"]);
        Assert.Equal("Export/child2", pack.Inputs["export"].Name);
        Assert.Equal("Report/report", pack.Inputs["report"].Name);
        Assert.Equal("Pack/pack", Assert.Single(graph.Jobs["Publish"]).Inputs["pack"].Name);
        Assert.Equal("Puzzle.Test", PackStage.PackageId(repo.Load()));
        Assert.Equal("1.2.3", PackStage.PackageVersion(repo.Load(), pack.Key));

        // the spec's bytes are packed, so an edit that changes no setting still gives a new Pack key (and version)
        var before = pack.Key;
        File.AppendAllText(repo.SpecPath, "# a comment\n");
        var edited = PipelineGraph.Plan(repo.Load(), PuzzleStages.All());
        Assert.NotEqual(before, edited.Jobs["Pack"].Single().Key);
        Assert.Equal(graph.Jobs["Export"][0].Key, edited.Jobs["Export"][0].Key);
    }

    /// <summary>A CI workspace made afresh at the same path, with the store kept: Publish was cached and the new
    /// artifacts/feed never got the package. A folder feed without it makes the job run again.</summary>
    [Fact]
    public void A_folder_feed_that_lost_the_package_gets_it_published_again()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (spec, store, history, made, publish) = PublishOfAPack(repo);
        var feed = Path.Combine(repo.Root, "artifacts", "feed");

        Assert.True(JobRunner.Run(publish, spec, store, history, TextWriter.Null, 1).Ran);
        Assert.True(Stage.Built(publish, store));
        Assert.False(JobRunner.Run(publish, spec, store, history, TextWriter.Null, 1).Ran); // the feed has it: cached
        Directory.Delete(feed, recursive: true);

        Assert.False(Stage.Built(publish, store));
        var status = PipelineStatus.Of(publish, store, history);
        Assert.Equal((JobState.Stale, $"built, but {feed} no longer has Puzzle.Test 1.0.0"), (status.State, status.Reason));
        Assert.True(JobRunner.Run(publish, spec, store, history, TextWriter.Null, 1).Ran);
        Assert.Equal([Path.GetFileName(made.Path)], Directory.GetFiles(feed).Select(Path.GetFileName));
        Assert.Equal(JobState.Cached, PipelineStatus.Of(publish, store, history).State);
    }

    /// <summary>A damaged copy of the published version on the folder feed: NuGet's lookup threw from Lost, so puzzle
    /// status, graph and run failed with NuGet's exception before anything started. It is lost: the push replaces it.</summary>
    [Fact]
    public void A_damaged_package_on_the_folder_feed_is_published_again_not_an_error_before_anything_starts()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (spec, store, history, made, publish) = PublishOfAPack(repo);
        Assert.True(JobRunner.Run(publish, spec, store, history, TextWriter.Null, 1).Ran);
        var copy = Path.Combine(repo.Root, "artifacts", "feed", Path.GetFileName(made.Path));
        File.WriteAllText(copy, "not a zip"); // a disk's damage, or a copy cut short by something else

        Assert.False(Stage.Built(publish, store));
        Assert.Equal(JobState.Stale, PipelineStatus.Of(publish, store, history).State);
        Assert.True(JobRunner.Run(publish, spec, store, history, TextWriter.Null, 1).Ran);
        Assert.Equal(File.ReadAllBytes(made.Path), File.ReadAllBytes(copy));
    }

    /// <summary>A Pack entry holding a real package (Puzzle.Test 1.0.0), and the spec's Publish job reading it.</summary>
    static (Engine.Pipeline.Spec.PipelineSpec Spec, CacheStore Store, JobHistory History, Engine.Packaging.PackResult Made, JobPlan Publish) PublishOfAPack(TestRepo repo)
    {
        var spec = repo.Load();
        var store = new CacheStore(repo.Store);
        var history = new JobHistory(store.Root, spec.Name);
        var graph = PipelineGraph.Plan(spec, PuzzleStages.All());
        var made = Packaging.PackageTestSupport.Make(Path.Combine(repo.Root, "made"), id: "Puzzle.Test");
        var pack = Publish(store, new JobPlan(new PackStage(), "pack", graph.Jobs["Pack"].Single().Config, new Dictionary<string, JobPlan>()),
            new Dictionary<string, string>
            {
                [PackStage.PackFile] = $$"""{"id": "Puzzle.Test", "version": "1.0.0", "file": "{{Path.GetFileName(made.Path)}}", "sha256": "{{made.Sha256}}", "bytes": {{made.Bytes}}, "model": "child1"}""",
            },
            staging => File.Copy(made.Path, Path.Combine(staging, Path.GetFileName(made.Path))));
        var publish = new JobPlan(new PublishStage(), "publish", graph.Jobs["Publish"].Single().Config, new Dictionary<string, JobPlan> { ["pack"] = pack });
        return (spec, store, history, made, publish);
    }

    [Fact]
    public void A_clone_at_another_path_sharing_the_store_publishes_to_its_own_feed_folder()
    {
        // the same spec in two clones (CI workspaces) plans the same Pack, and a Publish of its own for each clone's feed
        // folder: cached from the other clone, its artifacts/feed never got the package while the run said Publish was done
        using var a = new TestRepo(TestRepo.MicroSpec);
        using var b = new TestRepo(TestRepo.MicroSpec);
        var (first, second) = (PipelineGraph.Plan(a.Load(), PuzzleStages.All()), PipelineGraph.Plan(b.Load(), PuzzleStages.All()));
        Assert.Equal(first.Jobs["Pack"].Single().Key, second.Jobs["Pack"].Single().Key);
        Assert.NotEqual(first.Jobs["Publish"].Single().Key, second.Jobs["Publish"].Single().Key);
        // a server feed is not where a clone lies: one Publish for both
        var server = TestRepo.MicroSpec + "\npack: { source: https://nuget.example.com/v3/index.json }\n";
        using var c = new TestRepo(server);
        using var d = new TestRepo(server);
        Assert.Equal(PipelineGraph.Plan(c.Load(), PuzzleStages.All()).Jobs["Publish"].Single().Key,
            PipelineGraph.Plan(d.Load(), PuzzleStages.All()).Jobs["Publish"].Single().Key);
    }
}
