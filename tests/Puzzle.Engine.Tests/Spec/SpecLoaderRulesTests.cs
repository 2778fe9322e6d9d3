using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Spec;

public sealed class SpecLoaderRulesTests
{
    [Fact]
    public void A_parent_path_must_be_a_model_folder()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["models/tiny"]);
        const string yaml = "name: p\nparent: { path: models/tiny }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\n";

        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", dir.Path));
        Assert.Equal((2, 17), (e.Line, e.Column));
        Assert.Contains("has no config.json", e.Message);

        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf-llama-tiny", "config.json"), dir["models/tiny/config.json"]);
        e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", dir.Path));
        Assert.Equal((2, 17), (e.Line, e.Column));
        Assert.Contains("has no tokenizer.json; the pipeline tokenizes its text with the parent's own tokenizer", e.Message);

        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf-llama-tiny", "tokenizer.json"), dir["models/tiny/tokenizer.json"]);
        var s = SpecLoader.Parse(yaml, "p.yaml", dir.Path);
        Assert.Equal("models/tiny", s.Parent.Path);
        Assert.Null(s.Parent.Pretrain);
        Assert.Equal(Path.Combine(Path.GetFullPath(dir.Path), "models", "tiny"), s.Resolve(s.Parent.Path!));
    }

    [Fact]
    public void A_spec_that_is_no_utf8_text_is_one_error_at_the_bytes_and_utf8_or_utf16_with_a_mark_reads()
    {
        using var dir = new TempDir();
        var path = dir["latin1.yaml"];
        // é in Latin-1 in a path, after a ü in UTF-8 on the same line: the column counts characters
        File.WriteAllBytes(path, [.. "name: p\nparent: { pretrain: {} }\ndata: { train: [\"ü/caf"u8, 0xE9, .. "/*.txt\"] }\n"u8]);

        var e = Assert.Throws<SpecException>(() => SpecLoader.Load(path));

        Assert.Equal($"{path}:3:23: error: the spec is not UTF-8 text (bytes that are no UTF-8 here); save it as UTF-8, e.g. iconv -f latin1 -t utf-8",
            Assert.Single(e.Errors).ToString());

        const string yaml = "name: p\nparent: { pretrain: {} }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\n";
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(yaml)]);
        Assert.Equal("p", SpecLoader.Load(path).Name);
        File.WriteAllText(path, yaml, System.Text.Encoding.Unicode); // UTF-16 with its mark
        Assert.Equal("p", SpecLoader.Load(path).Name);
    }

    [Fact]
    public void A_package_fetched_by_two_npm_entries_is_refused_at_the_second()
    {
        const string yaml = "name: p\nparent: { pretrain: {} }\ndata:\n  npm:\n    - { package: \"@stdlib/x@1.0.0\", files: a.txt }\n" +
                            "    - { package: \"@stdlib/x@1.0.1\", files: b.txt }\n";

        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", Path.GetTempPath()));

        Assert.Equal("p.yaml:6:18: error: data.npm[1] fetches @stdlib/x@1.0.1, a package data.npm[0] fetches already; give each package one entry, " +
                     "with a files glob that matches what you need of it", Assert.Single(e.Errors).ToString());
    }

    [Fact]
    public void A_feed_that_is_a_file_and_a_misspelt_format_are_named_with_what_is_expected()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["artifacts"]);
        File.WriteAllText(dir["artifacts/feed"], "");
        const string yaml = "name: p\nparent: { pretrain: {} }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\n" +
                            "export: { format: nemotron }\npack: { feed: artifacts/feed }\n";

        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", dir.Path));

        Assert.Equal(
        [
            "p.yaml:4:19: error: export.format: expected one of auto, llama, nemotron_nas, nemotron-nas; found the string 'nemotron'; did you mean 'nemotron_nas'?",
            "p.yaml:5:15: error: pack.feed 'artifacts/feed' is a file; name a folder",
        ], e.Errors.Select(x => x.ToString()));
    }

    [Fact]
    public void Every_error_is_reported_sorted_by_position()
    {
        const string yaml = """
            name: Bad
            parent: { pretrain: { heads: 8, kv_heads: 3 } }
            data: { seq_len: 4, npm: [{ package: a@1.0.0, files: x.txt }] }
            bld: { mode: fast, lr: 1e-3, lr: 2e-3 }
            serch: {}
            """;
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "bad.yaml", Path.GetTempPath()));

        Assert.Equal(
        [
            "bad.yaml:1:7: error: name 'Bad' is not valid: expected lowercase letters, digits, '_' and '-', starting with a letter or digit",
            "bad.yaml:2:43: error: parent.pretrain.kv_heads (3) must divide heads (8)",
            "bad.yaml:3:18: error: data.seq_len must be at least 8 (found 4)",
            "bad.yaml:4:14: error: bld.mode: expected one of decoupled, coupled; found the string 'fast'",
            "bad.yaml:4:30: error: duplicate key 'lr' (first at 4:20)",
            "bad.yaml:5:1: error: unknown key 'serch' at the top level; did you mean 'search'?",
        ], e.Errors.Select(x => x.ToString()));
        Assert.Equal(string.Join('\n', e.Errors), e.Message);
        Assert.Equal(("bad.yaml", 1, 7), (e.File, e.Line, e.Column));
    }

    [Fact]
    public void Paths_resolve_against_the_repository_root_when_the_spec_is_in_pipelines()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["pipelines"]);
        Assert.Equal(Path.GetFullPath(dir.Path), SpecLoader.BaseDirectoryOf(dir["pipelines/x.yaml"]));
        Assert.Equal(Path.GetFullPath(dir["specs"]), SpecLoader.BaseDirectoryOf(dir["specs/x.yaml"]));
    }

    [Fact]
    public void Lists_are_read_only()
    {
        var s = SpecLoader.Parse("name: r\nparent: { pretrain: {} }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\nsearch_space: { ffn: { ratios: [0.5] } }\n",
            "r.yaml", Path.GetTempPath());
        Assert.False(s.SearchSpace.Ffn.Ratios is double[]);
        Assert.True(s.SearchSpace.Ffn.Ratios is ICollection<double> { IsReadOnly: true });
    }
}
