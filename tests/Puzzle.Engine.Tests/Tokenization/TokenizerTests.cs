using System.Text.Json;
using Puzzle.Engine.Tokenization;
using Xunit;

namespace Puzzle.Engine.Tests.Tokenization;

public sealed class MistralTokenizerFixture : IDisposable
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf-llama-tiny");
    public Tokenizer Tokenizer { get; } = Tokenizer.Load(Path.Combine(Folder, "tokenizer.json"));
    public void Dispose() => Tokenizer.Dispose();
}

public class TokenizerTests(MistralTokenizerFixture fixture) : IClassFixture<MistralTokenizerFixture>
{
    readonly Tokenizer _tok = fixture.Tokenizer;

    public static TheoryData<string> Texts() => new() { "short", "long" };

    static (string Text, int[] Bos, int[] NoBos) Reference(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(MistralTokenizerFixture.Folder, "reference.json")));
        var t = doc.RootElement.GetProperty("texts").GetProperty(name);
        int[] Ids(string key) => t.GetProperty(key).GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return (t.GetProperty("text").GetString()!, Ids("bos"), Ids("nobos"));
    }

    [Theory, MemberData(nameof(Texts))]
    public void Encode_matches_transformers_ids(string name)
    {
        var (text, bos, nobos) = Reference(name);
        Assert.Equal(bos, _tok.Encode(text, addBos: true));
        Assert.Equal(nobos, _tok.Encode(text, addBos: false));
    }

    [Theory, MemberData(nameof(Texts))]
    public void Decode_round_trips_the_text(string name)
    {
        var (text, bos, nobos) = Reference(name);
        Assert.Equal(text, _tok.Decode(bos));
        Assert.Equal(text, _tok.Decode(nobos));
    }

    [Fact]
    public void Vocabulary_and_special_ids()
    {
        Assert.Equal(32000, _tok.VocabSize);
        Assert.Equal(1, _tok.BosId);
        Assert.Equal(2, _tok.EosId);
        Assert.Equal(0, _tok.UnkId);
        Assert.Equal("BPE", _tok.ModelType);
        Assert.Equal(28723, _tok.TokenToId("."));
        Assert.Equal("▁the", _tok.IdToToken(272));
        Assert.Equal(64, _tok.Sha256.Length);
    }

    [Fact]
    public void Empty_text_and_unusual_characters()
    {
        Assert.Empty(_tok.Encode("", addBos: false));
        Assert.Equal([1], _tok.Encode("", addBos: true));
        const string odd = "héllo 🦀\n\tx  y";
        var ids = _tok.Encode(odd, addBos: false);
        Assert.DoesNotContain(1, ids);
        Assert.Equal(odd, _tok.Decode(ids));
        Assert.Throws<ArgumentOutOfRangeException>(() => _tok.Decode([32000]));
    }

    [Fact]
    public void Missing_file_error_names_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid().ToString("N"), "tokenizer.json");
        var e = Assert.Throws<FileNotFoundException>(() => Tokenizer.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"model": {"type": "BPE"}}""")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "NoSuchThing"}}""")]
    public void Invalid_file_error_names_it(string content)
    {
        var path = Path.Combine(Path.GetTempPath(), $"bad-tokenizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, content);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => Tokenizer.Load(path));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void A_git_lfs_pointer_is_named_with_what_to_do()
    {
        // a model repository cloned without Git LFS: tokenizer.json (9 MB for Llama 3) is often stored in LFS
        var path = Path.Combine(Path.GetTempPath(), $"lfs-tokenizer-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "version https://git-lfs.github.com/spec/v1\noid sha256:79e3e522635f3171300913bb421464a87de6222182a0570b9b2ccba2a964b2b4\nsize 9085657\n");
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => Tokenizer.Load(path));
            Assert.Contains($"{path} is a Git LFS pointer to the file of {9085657:N0} bytes", e.Message);
            Assert.Contains("git lfs pull", e.Message);
        }
        finally { File.Delete(path); }
    }
}
