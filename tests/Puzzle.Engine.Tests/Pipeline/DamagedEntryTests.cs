using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Execution;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A damaged cache entry is never trusted: found when it is used, set aside, rebuilt, and the run says so.</summary>
public class DamagedEntryTests
{
    static (RunSummary Summary, string Console) Run(TestRepo repo, string? target = null)
    {
        var session = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All());
        var console = new StringWriter();
        var summary = session.RunAsync(target, session.InProcessLauncher(), console).GetAwaiter().GetResult();
        Assert.True(summary.Succeeded, console.ToString());
        return (summary, console.ToString());
    }

    static string EntryFile(TestRepo repo, string stage, string job, string file)
    {
        var session = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All());
        return session.Store.Find(session.Graph.Find(stage, job).Key)!.File(file);
    }

    static string[] Ran(RunSummary s) => s.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}").Order().ToArray();

    [Fact]
    public void A_flipped_byte_in_an_input_is_found_before_its_reader_runs_and_the_input_is_rebuilt()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var score = EntryFile(repo, "Variants", "layer0.ffn.ratio0.5", "score.txt");
        var good = File.ReadAllBytes(score);
        var bad = (byte[])good.Clone();
        bad[0] ^= 0x01; // same size, other content
        var written = File.GetLastWriteTimeUtc(score);
        File.WriteAllBytes(score, bad);
        File.SetLastWriteTimeUtc(score, written); // nothing but the bytes tells
        var choice = EntryFile(repo, "Select", "search", "choice.txt");
        var before = File.ReadAllText(choice);
        Directory.Delete(Path.GetDirectoryName(choice)!, recursive: true); // the reader must run again

        var (summary, console) = Run(repo);

        Assert.Contains("damaged Variants/layer0.ffn.ratio0.5: score.txt: hash differs; moved to quarantine", console);
        Assert.Equal(["Select/search", "Variants/layer0.ffn.ratio0.5"], Ran(summary));
        Assert.Equal(good, File.ReadAllBytes(EntryFile(repo, "Variants", "layer0.ffn.ratio0.5", "score.txt")));
        Assert.Equal(before, File.ReadAllText(EntryFile(repo, "Select", "search", "choice.txt")));
        Assert.Single(Directory.GetDirectories(Path.Combine(repo.Store, "quarantine")));
    }

    [Fact]
    public void A_truncated_payload_is_not_cached_in_status_and_the_next_run_rebuilds_it()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        var score = EntryFile(repo, "Variants", "layer1.ffn.ratio0.25", "score.txt");
        File.WriteAllBytes(score, File.ReadAllBytes(score)[..1]);

        var status = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Status();
        Assert.NotEqual(JobState.Cached, status.Single(s => s.Job == "layer1.ffn.ratio0.25").State);

        var (summary, console) = Run(repo);
        Assert.Contains("damaged Variants/layer1.ffn.ratio0.25: score.txt: ", console);
        Assert.Contains("Variants/layer1.ffn.ratio0.25", Ran(summary));
        Assert.Empty(Ran(Run(repo).Summary)); // and then it is a hit again
    }

    /// <summary>Rewrites the manifest of Variants/layer0.ffn.ratio0.5 through <paramref name="edit"/>; returns its path.</summary>
    static string EditManifest(TestRepo repo, Action<JsonObject> edit)
    {
        var manifest = Path.Combine(Path.GetDirectoryName(EntryFile(repo, "Variants", "layer0.ffn.ratio0.5", "score.txt"))!, JobManifest.FileName);
        var node = JsonNode.Parse(File.ReadAllText(manifest))!.AsObject();
        edit(node);
        File.WriteAllText(manifest, node.ToJsonString());
        return manifest;
    }

    [Theory]
    [InlineData("files", "null")] // JSON that parses: every reader of the store stopped on a NullReferenceException
    [InlineData("inputs", "null")]
    [InlineData("config", "null")]
    [InlineData("metrics", "null")]
    [InlineData("key", "null")]
    [InlineData("host", "null")]
    [InlineData("files", "value null")]
    [InlineData("inputs", "value null")]
    [InlineData("inputs", "missing")]
    [InlineData("config", "missing")]
    public void An_incomplete_manifest_is_named_by_status_and_verify_set_aside_and_rebuilt_by_the_run(string field, string how)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        EditManifest(repo, node =>
        {
            if (how == "missing") node.Remove(field);
            else if (how == "null") node[field] = null;
            else
            {
                var map = node[field]!.AsObject();
                if (map.Count == 0) map["added"] = "x";
                map[map.First().Key] = null;
            }
        });

        var status = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Status();
        var job = status.Single(s => s.Job == "layer0.ffn.ratio0.5");
        Assert.NotEqual(JobState.Cached, job.State);
        Assert.Contains("its cache entry is damaged (manifest.json: unreadable)", job.Reason);
        var (_, found) = StoreVerifier.CheckStore(new CacheStore(repo.Store));
        Assert.Equal(JobManifest.FileName, Assert.Single(found).File);

        var (summary, console) = Run(repo);
        Assert.Contains("damaged Variants/layer0.ffn.ratio0.5: manifest.json: unreadable; moved to quarantine", console);
        Assert.Equal(["Variants/layer0.ffn.ratio0.5"], Ran(summary).Where(j => j.StartsWith("Variants/", StringComparison.Ordinal)));
        Assert.Single(Directory.GetDirectories(Path.Combine(repo.Store, "quarantine")));
        Assert.Empty(Ran(Run(repo).Summary)); // and then it is a hit again
    }

    [Fact]
    public void A_manifest_written_before_sizes_cpu_and_run_id_were_recorded_is_still_a_hit()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        // the fields the first manifests had are required; the ones added since (sizes, cpu, run_id) are not
        EditManifest(repo, node =>
        {
            foreach (var added in new[] { "sizes", "cpu", "run_id" }) Assert.True(node.Remove(added), added);
        });

        var status = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All()).Status();
        Assert.All(status, s => Assert.Equal(JobState.Cached, s.State));
        Assert.Empty(StoreVerifier.CheckStore(new CacheStore(repo.Store)).Damage);
        var (summary, console) = Run(repo);
        Assert.Empty(Ran(summary));
        Assert.DoesNotContain("damaged", console);
    }

    [Fact]
    public void A_fully_cached_run_reads_no_payload()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Run(repo);
        // a flipped byte that nothing reads this run is left for the run that reads it (or for verify --store)
        var score = EntryFile(repo, "Variants", "layer0.ffn.ratio0.5", "score.txt");
        var bytes = File.ReadAllBytes(score);
        bytes[0] ^= 0x01;
        File.WriteAllBytes(score, bytes);
        var (summary, console) = Run(repo);
        Assert.Empty(Ran(summary));
        Assert.DoesNotContain("damaged", console);
    }
}

/// <summary>The same through the real stages: damaged BLD weights and a damaged score file are rebuilt before their readers.</summary>
[Trait("Category", "Slow")] // a micro pipeline up to Search
public class DamagedStageEntryTests
{
    [Fact]
    public async Task Damaged_weights_and_a_damaged_json_output_are_rebuilt_before_the_jobs_that_read_them()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        var first = await session.RunAsync("Search", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(first.Succeeded);
        string Entry(string stage, string job) => session.Store.Find(session.Graph.Find(stage, job).Key)!.Directory;

        var weights = Path.Combine(Entry("Distill", "layer0.ffn.linear"), Engine.Pipeline.Stages.DistillStage.WeightsFile);
        var goodWeights = File.ReadAllBytes(weights);
        var bytes = (byte[])goodWeights.Clone();
        bytes[^3] ^= 0x10;
        File.WriteAllBytes(weights, bytes);
        var scores = Path.Combine(Entry("Score", "layer1"), Engine.Pipeline.Stages.ScoreStage.ScoresFile);
        var goodScores = File.ReadAllText(scores);
        File.WriteAllText(scores, goodScores.Replace("\"kl\": 0", "\"kl\": 9")); // a JSON output edited in place
        Assert.NotEqual(goodScores, File.ReadAllText(scores));
        foreach (var reader in new[] { ("Score", "layer0"), ("Search", "b8") }) Directory.Delete(Entry(reader.Item1, reader.Item2), recursive: true);

        var console = new StringWriter();
        var second = await session.RunAsync("Search", session.InProcessLauncher(), console);

        Assert.True(second.Succeeded, console.ToString());
        Assert.Contains("damaged Distill/layer0.ffn.linear: weights.safetensors: hash differs", console.ToString());
        Assert.Contains("damaged Score/layer1: scores.json: ", console.ToString());
        var ran = second.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}").ToList();
        Assert.Contains("Distill/layer0.ffn.linear", ran);
        Assert.Contains("Score/layer1", ran);
        Assert.Equal(goodWeights, File.ReadAllBytes(Path.Combine(Entry("Distill", "layer0.ffn.linear"), Engine.Pipeline.Stages.DistillStage.WeightsFile)));
    }
}
