using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A user's parent is known by its content: new weights of the same shapes make everything downstream stale.</summary>
public class ParentFingerprintTests
{
    const string Spec = """
        name: fp
        parent: { path: parent }
        data:
          train: [text/*.txt]
          seq_len: 16
        search_space:
          attention: { kv_heads: [1] }
        """;

    [Fact]
    public void Weights_of_the_same_shapes_are_another_parent_and_an_unchanged_one_is_not_read_again()
    {
        using var dir = new TempDir();
        var parent = dir["parent"];
        Directory.CreateDirectory(parent);
        foreach (var f in Directory.GetFiles(Fixtures.HfLlamaTiny)) File.Copy(f, Path.Combine(parent, Path.GetFileName(f)));
        Directory.CreateDirectory(dir["text"]);
        File.WriteAllText(dir["text/a.txt"], "Call me Ishmael. Some years ago, never mind how long precisely.");
        File.WriteAllText(dir["fp.yaml"], Spec);

        var before = PipelineSession.Open(dir["fp.yaml"], dir["store"]).Graph;
        var files = Directory.GetFiles(parent);
        Assert.All(files, f => Assert.Equal(1, FileFingerprints.TimesRead(f)));
        var again = PipelineSession.Open(dir["fp.yaml"], dir["store"]).Graph;
        Assert.All(files, f => Assert.Equal(1, FileFingerprints.TimesRead(f))); // planned again: every file remembered, none read
        Assert.Equal(before.Find("Parent", "parent").Key, again.Find("Parent", "parent").Key);

        // a fine-tune: one shard rewritten with other values, same size and shapes
        var shard = Path.Combine(parent, "model-00002-of-00003.safetensors");
        var bytes = File.ReadAllBytes(shard);
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(shard, bytes);
        var after = PipelineSession.Open(dir["fp.yaml"], dir["store"]).Graph;

        Assert.NotEqual(before.Find("Parent", "parent").Key, after.Find("Parent", "parent").Key);
        var downstream = after.JobsFor(null).Where(j => j.Stage.Name is "Distill" or "Score" or "Search").ToList();
        Assert.NotEmpty(downstream);
        Assert.All(downstream, j => Assert.NotEqual(before.Find(j.Stage.Name, j.Id).Key, j.Key));
    }
    /// <summary>A parent as older transformers saved it, in pytorch_model.bin: its job checks every weight there, and a
    /// fine-tune that rewrote one value (here to NaN) is another parent, whose job names the tensor and the file.</summary>
    [Fact]
    public async Task A_pytorch_model_bin_parent_is_checked_whole_and_known_by_its_content()
    {
        using var dir = new TempDir();
        var parent = dir["parent"];
        Tests.Cli.TestParents.Tiny(parent);
        Tests.Checkpoints.TorchBinFixtures.ToPytorchBin(parent);
        SyntheticText.WriteCorpus(dir["text"], files: 2, sentences: 10);
        File.WriteAllText(dir["fp.yaml"], Spec);
        var session = PipelineSession.Open(dir["fp.yaml"], dir["store"]);
        Assert.True((await session.RunAsync("Parent", session.InProcessLauncher(), TextWriter.Null)).Succeeded);
        var checkedBytes = session.Store.Find(session.Graph.Find("Parent", "parent").Key)!.Manifest.Metrics["weight_bytes_checked"]!.GetValue<long>();
        Assert.Equal(4 * 4_232_384, checkedBytes); // every float32 weight of the fixture

        var bin = Path.Combine(parent, CheckpointTensors.PickleFileName);
        const string tensor = "model.layers.0.self_attn.k_proj.weight";
        long at;
        using (var handle = File.OpenHandle(bin))
        {
            var zip = ZipRecords.Read(handle, bin);
            var key = TorchPickle.Parse(zip.ReadAll("pytorch_model/data.pkl", 1 << 20), bin).Single(t => t.Name == tensor).Tensor.Storage.Key;
            at = zip.Locate($"pytorch_model/data/{key}").Offset;
        }
        var bytes = File.ReadAllBytes(bin);
        BitConverter.GetBytes(float.NaN).CopyTo(bytes, at);
        File.WriteAllBytes(bin, bytes);
        var after = PipelineSession.Open(dir["fp.yaml"], dir["store"]);
        Assert.NotEqual(session.Graph.Find("Parent", "parent").Key, after.Graph.Find("Parent", "parent").Key);
        var job = Assert.Single((await after.RunAsync("Parent", after.InProcessLauncher(), TextWriter.Null)).Jobs, j => j.Stage == "Parent");
        Assert.Equal(JobOutcome.Failed, job.Outcome);
        Assert.Contains($"{bin}: tensor '{tensor}' holds 1 NaN or infinite value", File.ReadAllText(job.Log!));
    }

    /// <summary>The export carries the parent's additional_chat_templates/ folder: a template edited there is another
    /// parent (its children export again with it), while folders the export does not carry (a download's .cache/) key
    /// nothing.</summary>
    [Fact]
    public void A_named_chat_template_edited_in_its_folder_is_another_parent_and_other_folders_are_not_keyed()
    {
        using var dir = new TempDir();
        var parent = dir["parent"];
        Directory.CreateDirectory(Path.Combine(parent, "additional_chat_templates"));
        foreach (var f in Directory.GetFiles(Fixtures.HfLlamaTiny)) File.Copy(f, Path.Combine(parent, Path.GetFileName(f)));
        var template = Path.Combine(parent, "additional_chat_templates", "tool_use.jinja");
        File.WriteAllText(template, "{% for m in messages %}{{ m['content'] }}{% endfor %}\n");
        Directory.CreateDirectory(dir["text"]);
        File.WriteAllText(dir["text/a.txt"], "Call me Ishmael. Some years ago, never mind how long precisely.");
        File.WriteAllText(dir["fp.yaml"], Spec);
        string Key() => PipelineSession.Open(dir["fp.yaml"], dir["store"]).Graph.Find("Parent", "parent").Key;
        var before = Key();

        Directory.CreateDirectory(Path.Combine(parent, ".cache", "huggingface"));
        File.WriteAllText(Path.Combine(parent, ".cache", "huggingface", "config.json.metadata"), "a1b2\n2026-12-03T20:40:47Z\n");
        Assert.Equal(before, Key());

        File.WriteAllText(template, "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{% endfor %}\n");
        Assert.NotEqual(before, Key());
    }

    [Fact]
    public async Task A_parent_folder_moved_with_the_same_content_is_read_where_the_spec_now_names_it()
    {
        using var dir = new TempDir();
        var parent = dir["parent"];
        Directory.CreateDirectory(parent);
        foreach (var f in Directory.GetFiles(Fixtures.HfLlamaTiny)) File.Copy(f, Path.Combine(parent, Path.GetFileName(f)));
        SyntheticText.WriteCorpus(dir["text"], files: 4, sentences: 40);
        var spec = Spec + "\nbld: { tokens: 64, batch: 2 }\n";
        File.WriteAllText(dir["fp.yaml"], spec);
        var session = PipelineSession.Open(dir["fp.yaml"], dir["store"]);
        Assert.True((await session.RunAsync("Parent", session.InProcessLauncher(), TextWriter.Null)).Succeeded);

        // the same bytes elsewhere: the Parent job's key hashes content, not where it lies, so its entry is a hit
        Directory.Move(parent, dir["moved"]);
        File.WriteAllText(dir["fp.yaml"], spec.Replace("path: parent", "path: moved"));
        var moved = PipelineSession.Open(dir["fp.yaml"], dir["store"]);
        Assert.Equal(session.Graph.Find("Parent", "parent").Key, moved.Graph.Find("Parent", "parent").Key);

        // the jobs that read the parent read the folder the spec names now, not the one the entry was built for (gone)
        var summary = await moved.RunAsync("Distill", moved.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));
        Assert.Contains(summary.Jobs, j => j.Stage == "Parent" && j.Outcome == JobOutcome.Cached);
        foreach (var job in moved.Graph.JobsFor(null).Where(j => j.Inputs.ContainsKey("parent")))
            Assert.Equal(dir["moved"], ParentStage.ModelDirectory(new JobContext(job, moved.Graph.Spec, moved.Store, dir["out"], TextWriter.Null, 1)));
        // and `puzzle show Parent/parent` tells users to evaluate the folder that is there
        Assert.Contains($"puzzle eval --model {dir["moved"]} ", JobDetails.Describe(moved, moved.Graph.Find("Parent", "parent")));
    }

    [Fact]
    public async Task A_parent_with_a_weight_that_is_not_finite_fails_its_job_naming_the_tensor()
    {
        using var dir = new TempDir();
        var (config, tensors) = Checkpoint.Open(Fixtures.HfLlamaTiny);
        Dictionary<string, TorchSharp.torch.Tensor> weights;
        using (tensors) weights = tensors.Names.ToDictionary(n => n, tensors.Read);
        weights["model.layers.0.self_attn.k_proj.weight"][0, 0] = float.NaN;
        Checkpoint.Save(dir["parent"], config, weights, tokenizerPath: Path.Combine(Fixtures.HfLlamaTiny, Checkpoint.TokenizerFileName));
        foreach (var w in weights.Values) w.Dispose();
        SyntheticText.WriteCorpus(dir["text"], files: 2, sentences: 10);
        File.WriteAllText(dir["fp.yaml"], Spec);

        var session = PipelineSession.Open(dir["fp.yaml"], dir["store"]);
        var summary = await session.RunAsync("Parent", session.InProcessLauncher(), TextWriter.Null);

        var job = Assert.Single(summary.Jobs, j => j.Stage == "Parent");
        Assert.Equal(JobOutcome.Failed, job.Outcome);
        Assert.Contains("tensor 'model.layers.0.self_attn.k_proj.weight' holds 1 NaN or infinite value", File.ReadAllText(job.Log!));
        Assert.Null(session.Store.Find(session.Graph.Find("Parent", "parent").Key));
    }
}
