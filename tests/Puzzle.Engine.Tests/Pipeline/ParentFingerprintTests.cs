using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline;

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
}
