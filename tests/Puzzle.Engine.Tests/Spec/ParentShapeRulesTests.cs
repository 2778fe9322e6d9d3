using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Spec;

/// <summary>Rules that need the parent's shape: found when the spec loads, before any job runs.</summary>
public sealed class ParentShapeRulesTests
{
    [Fact]
    public void Kv_heads_must_divide_the_kv_heads_of_an_existing_parent()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["models/tiny"]);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "config.json"), dir["models/tiny/config.json"]);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"), dir["models/tiny/tokenizer.json"]); // 4 heads, 2 KV heads
        const string yaml = """
            name: p
            parent: { path: models/tiny }
            data: { npm: [{ package: a@1.0.0, files: x.txt }] }
            search_space:
              attention: { kv_heads: [1, 3] }
              layers:
                - { range: 0-1, attention: { kv_heads: [2, 4] } }
            """;

        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", dir.Path));

        Assert.Equal(
        [
            "p.yaml:5:30: error: search_space.attention.kv_heads[1] = 3 does not divide the parent's 2 KV heads (models/tiny/config.json); " +
            "a variant mean-pools whole groups of the parent's KV heads, so use one of 1, 2",
            "p.yaml:7:48: error: search_space.layers[0].attention.kv_heads[1] = 4 does not divide the parent's 2 KV heads (models/tiny/config.json); " +
            "a variant mean-pools whole groups of the parent's KV heads, so use one of 1, 2",
        ], e.Errors.Select(x => x.ToString()));
    }

    [Fact]
    public void Text_windows_and_the_timed_scenario_stay_within_the_parents_trained_positions()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["models/tiny"]);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "config.json"), dir["models/tiny/config.json"]);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"), dir["models/tiny/tokenizer.json"]); // max_position_embeddings 512
        const string yaml = """
            name: p
            parent: { path: models/tiny }
            data: { npm: [{ package: a@1.0.0, files: x.txt }], seq_len: 1024 }
            search_space: { attention: { kv_heads: [1] } }
            scenario: { prompt: 500, generate: 64 }
            """;

        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", dir.Path));

        Assert.Equal(
        [
            "p.yaml:3:61: error: data.seq_len is 1,024 positions, beyond the parent's max_position_embeddings 512 (models/tiny/config.json): " +
            "it was not trained on positions past them; use at most 512",
            "p.yaml:5:36: error: scenario.prompt + scenario.generate (500 + 64) is 564 positions, beyond the parent's max_position_embeddings 512 " +
            "(models/tiny/config.json): it was not trained on positions past them; use at most 512",
        ], e.Errors.Select(x => x.ToString()));
        // within them, and a parent pretrained here (trained on the positions the spec asks for), load
        SpecLoader.Parse(yaml.Replace("1024", "512").Replace("500", "448"), "p.yaml", dir.Path);
        SpecLoader.Parse("name: p\nparent: { pretrain: {} }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }], seq_len: 4096 }\n", "p.yaml", dir.Path);

        // a parent trained on fewer positions than the default scenario's: the error says the values are defaults
        var config = dir["models/tiny/config.json"];
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"max_position_embeddings\": 512", "\"max_position_embeddings\": 128"));
        e = Assert.Throws<SpecException>(() => SpecLoader.Parse(
            "name: p\nparent: { path: models/tiny }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }], seq_len: 64 }\n", "p.yaml", dir.Path));
        Assert.Equal("p.yaml:1:1: error: scenario.prompt + scenario.generate (128 + 64, both the defaults) is 192 positions, beyond the parent's " +
                     "max_position_embeddings 128 (models/tiny/config.json): it was not trained on positions past them; use at most 128",
            Assert.Single(e.Errors).ToString());
        e = Assert.Throws<SpecException>(() => SpecLoader.Parse(
            "name: p\nparent: { path: models/tiny }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }], seq_len: 64 }\nscenario: { prompt: 100 }\n", "p.yaml", dir.Path));
        Assert.Contains("(100 + 64, generate the default) is 164 positions", Assert.Single(e.Errors).ToString());
    }

    [Fact]
    public void Ffn_ratios_that_round_to_the_parents_width_or_to_one_another_are_named()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["models/tiny"]);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "config.json"), dir["models/tiny/config.json"]);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"), dir["models/tiny/tokenizer.json"]); // intermediate_size 172
        const string yaml = """
            name: p
            parent: { path: models/tiny }
            data: { npm: [{ package: a@1.0.0, files: x.txt }] }
            search_space:
              ffn: { ratios: [0.5, 0.99, 0.45], round_to: 16 }
              layers:
                - { range: 0-1, ffn: { ratios: [0.25], round_to: 256 } }
            """;

        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", dir.Path));

        Assert.Equal(
        [
            // 0.99 x 172 = 170.3: 11 multiples of 16 is 176, the parent's 172 once capped; below 0.977 it rounds to 10 (160)
            "p.yaml:5:24: error: search_space.ffn.ratios[1] = 0.99 gives an FFN width of 172, the parent's own (172, intermediate_size in " +
            "models/tiny/config.json; widths round to multiples of 16 (round_to)): it offers no narrower variant; use a ratio below 0.977",
            // 0.5 x 172 = 86 and 0.45 x 172 = 77.4 both round to 5 x 16
            "p.yaml:5:30: error: search_space.ffn.ratios[2] = 0.45 gives an FFN width of 80, as search_space.ffn.ratios[0] = 0.5 does " +
            "(widths round to multiples of 16 (round_to)); the library trains one variant per width, so drop one or lower round_to",
            "p.yaml:7:37: error: search_space.layers[0].ffn.ratios[0] = 0.25 gives an FFN width of 172, the parent's own (172, intermediate_size in " +
            "models/tiny/config.json; widths round to multiples of 256 (round_to)): it offers no narrower variant; lower round_to below 172",
        ], e.Errors.Select(x => x.ToString()));

        // ratios left to their defaults are not the user's to fix, and widths of their own load
        SpecLoader.Parse(yaml.Replace("[0.5, 0.99, 0.45]", "[0.5, 0.25]").Replace("round_to: 256", "round_to: 16"), "p.yaml", dir.Path);
        SpecLoader.Parse("name: p\nparent: { path: models/tiny }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\n", "p.yaml", dir.Path);
        // a parent pretrained here: its intermediate size, the default's included
        e = Assert.Throws<SpecException>(() => SpecLoader.Parse(
            "name: p\nparent: { pretrain: {} }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\nsearch_space: { ffn: { ratios: [0.5, 0.52] } }\n",
            "p.yaml", dir.Path));
        Assert.Contains("ratios[1] = 0.52 gives an FFN width of 384, as search_space.ffn.ratios[0] = 0.5 does", Assert.Single(e.Errors).ToString());
    }

    [Fact]
    public void Kv_heads_that_divide_the_parents_load()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["models/tiny"]);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "config.json"), dir["models/tiny/config.json"]);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"), dir["models/tiny/tokenizer.json"]);
        const string yaml = "name: p\nparent: { path: models/tiny }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\nsearch_space: { attention: { kv_heads: [1] } }\n";

        Assert.Equal([1], SpecLoader.Parse(yaml, "p.yaml", dir.Path).SearchSpace.Attention.KvHeads);
    }

    [Fact]
    public void A_misspelt_nested_key_is_listed_before_the_errors_about_defaults_it_causes()
    {
        // kv_head is a typo for kv_heads, so kv_heads keeps its default 4, which does not divide 6 heads: the typo is the
        // cause and must come first although the follow-on error points at an earlier position
        const string yaml = """
            name: p
            parent:
              pretrain: { heads: 6, kv_head: 2, hidden: 384 }
            data: { npm: [{ package: a@1.0.0, files: x.txt }] }
            """;

        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", Path.GetTempPath()));

        Assert.Equal(2, e.Errors.Count);
        Assert.StartsWith("p.yaml:3:25: error: unknown key 'kv_head' in parent.pretrain; did you mean 'kv_heads'?", e.Errors[0].ToString());
        Assert.Equal("parent.pretrain.kv_heads (4, the default) must divide heads (6)", e.Errors[1].Message);
    }
}
