using System.Text.Json;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Spec;

public sealed class SpecSchemaTests
{
    static string Committed => Path.Combine(Repository.Pipelines, SpecSchema.FileName);

    /// <summary>Set PUZZLE_UPDATE_SCHEMA=1 to rewrite the committed schema after changing the spec records.</summary>
    [Fact]
    public void The_committed_schema_is_up_to_date()
    {
        var generated = SpecSchema.Generate();
        if (Environment.GetEnvironmentVariable("PUZZLE_UPDATE_SCHEMA") == "1") File.WriteAllText(Committed, generated);
        Assert.True(File.Exists(Committed), $"{Committed} is missing; run the tests with PUZZLE_UPDATE_SCHEMA=1");
        Assert.True(File.ReadAllText(Committed) == generated,
            $"{Committed} is out of date; run the Spec tests with PUZZLE_UPDATE_SCHEMA=1 and commit it");
    }

    [Fact]
    public void The_schema_describes_the_records()
    {
        var root = JsonDocument.Parse(SpecSchema.Generate()).RootElement;
        Assert.Equal("https://json-schema.org/draft/2020-12/schema", root.GetProperty("$schema").GetString());
        Assert.Equal(["name", "parent", "data"], root.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.False(root.GetProperty("additionalProperties").GetBoolean());

        var defs = root.GetProperty("$defs");
        var data = defs.GetProperty("DataSpec").GetProperty("properties");
        var heldout = data.GetProperty("heldout_fraction");
        Assert.Equal(("number", 0, 0.5, 0.05), (heldout.GetProperty("type").GetString(), heldout.GetProperty("exclusiveMinimum").GetInt32(),
            heldout.GetProperty("maximum").GetDouble(), heldout.GetProperty("default").GetDouble()));
        Assert.False(string.IsNullOrEmpty(heldout.GetProperty("description").GetString()));

        var ratios = defs.GetProperty("FfnSpace").GetProperty("properties").GetProperty("ratios");
        Assert.Equal(1, ratios.GetProperty("items").GetProperty("maximum").GetInt32());
        Assert.True(ratios.GetProperty("uniqueItems").GetBoolean());

        var format = defs.GetProperty("ExportSpec").GetProperty("properties").GetProperty("format");
        Assert.Equal(["auto", "llama", "nemotron_nas", "nemotron-nas"], format.GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["package", "files"], defs.GetProperty("NpmSource").GetProperty("required").EnumerateArray().Select(e => e.GetString()));
    }

    static string Description(string def, string property) => JsonDocument.Parse(SpecSchema.Generate()).RootElement
        .GetProperty("$defs").GetProperty(def).GetProperty("properties").GetProperty(property).GetProperty("description").GetString()!;

    [Fact]
    public void Evaluation_tasks_resolve_as_its_description_says_against_the_repository_root()
    {
        using var repo = new TempDir();
        Directory.CreateDirectory(repo["pipelines"]);
        Directory.CreateDirectory(repo["tasks"]);
        File.WriteAllText(repo["tasks/t.jsonl"], """{"query": "q", "choices": ["a", "b"], "gold": 1}""" + "\n");
        File.WriteAllText(repo["pipelines/p.yaml"],
            "name: p\nparent: { pretrain: {} }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\nevaluation: { tasks: [tasks/t.jsonl] }\n");
        Assert.Equal(["tasks/t.jsonl"], SpecLoader.Load(repo["pipelines/p.yaml"]).Evaluation.Tasks); // not pipelines/tasks/t.jsonl

        foreach (var (def, property) in new[] { ("EvaluationSpec", "tasks"), ("DataSpec", "train"), ("ParentSpec", "path") })
        {
            Assert.Contains("relative to the repository root", Description(def, property));
            Assert.DoesNotContain("spec's folder;", Description(def, property));
        }
    }

    [Fact]
    public void Search_space_kv_heads_must_divide_the_parents_KV_heads_as_its_description_says()
    {
        // 4 divides the parent's 8 query heads, but not its 2 KV heads, whose whole groups a variant mean-pools
        const string Head = "name: p\nparent: { pretrain: { heads: 8, kv_heads: 2 } }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\n";
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(Head + "search_space: { attention: { kv_heads: [4] } }\n", "p.yaml", "."));
        Assert.Contains("does not divide the parent's 2 KV heads", e.Message);
        Assert.Contains("divide the parent's KV heads", Description("AttentionSpace", "kv_heads"));
    }

    [Fact]
    public void Every_pipeline_in_the_repository_loads()
    {
        var specs = Directory.GetFiles(Repository.Pipelines, "*.yaml");
        Assert.Contains(specs, p => Path.GetFileName(p) == "default.yaml");
        foreach (var path in specs)
        {
            var spec = SpecLoader.Load(path);
            Assert.Equal(Repository.Root, spec.BaseDirectory);
            Assert.StartsWith("# yaml-language-server: $schema=" + SpecSchema.FileName, File.ReadLines(path).First());
        }
    }

    [Fact]
    public void The_example_pipelines_say_what_the_brief_says()
    {
        var quick = SpecLoader.Load(Path.Combine(Repository.Pipelines, "default.yaml"));
        Assert.Equal(("quick", 128, 2, 1.5), (quick.Name, quick.Data.SeqLen, quick.Data.Npm.Count, quick.Constraints.ThroughputVsParent));
        Assert.Equal((2048, 192, 4, 6, 2, 512, 360_000L, 4), (quick.Parent.Pretrain!.VocabSize, quick.Parent.Pretrain.Hidden,
            quick.Parent.Pretrain.Layers, quick.Parent.Pretrain.Heads, quick.Parent.Pretrain.KvHeads, quick.Parent.Pretrain.Intermediate,
            quick.Parent.Pretrain.Training.Tokens, quick.Parent.Pretrain.Training.Batch));

        var ci = SpecLoader.Load(Path.Combine(Repository.Pipelines, "ci.yaml"));
        Assert.Equal(("ci", 64, 512, 2, 120_000L), (ci.Name, ci.Data.SeqLen, ci.Parent.Pretrain!.VocabSize, ci.Parent.Pretrain.Layers, ci.Parent.Pretrain.Training.Tokens));

        var moby = SpecLoader.Load(Path.Combine(Repository.Pipelines, "moby-2x.yaml"));
        Assert.Equal(new PretrainSpec(), moby.Parent.Pretrain);
        Assert.Equal((2, 300_000L, 400_000L, 2.0), (moby.Search.Solutions, moby.Gkd.Training.Tokens, moby.Bld.Training.Tokens, moby.Constraints.ThroughputVsParent));
    }
}
