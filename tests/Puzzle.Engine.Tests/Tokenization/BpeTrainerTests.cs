using System.Text;
using System.Text.Json;
using Puzzle.Engine.Tokenization;
using Xunit;

namespace Puzzle.Engine.Tests.Tokenization;

public sealed class TrainedTokenizerFixture : IDisposable
{
    public const int Vocab = 512;
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "puzzle-bpe-" + Guid.NewGuid().ToString("N"));
    public IReadOnlyList<string> Corpus { get; } = Texts.Corpus(documents: 200, seed: 7);
    public BpeModel Model { get; }
    public Tokenizer Tokenizer { get; }

    public TrainedTokenizerFixture()
    {
        Model = BpeTrainer.Train(Corpus, new BpeTrainerOptions { VocabSize = Vocab });
        Tokenizer = Tokenizer.Load(Model.Save(Folder));
    }

    public void Dispose()
    {
        Tokenizer.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}

/// <summary>Deterministic pseudo-English for tests.</summary>
public static class Texts
{
    static readonly string[] Words = ("call me ishmael some years ago never mind how long precisely having little or no money in my purse " +
        "and nothing particular to interest me on shore I thought would sail about see the watery part of world it is a way have " +
        "driving off spleen regulating circulation whenever find myself growing grim mouth whale ship captain Ahab Queequeg harpoon " +
        "sea ocean deck mast sailors white whaling voyage Nantucket Pequod Starbuck Stubb Flask boats oil").Split(' ');

    public static IReadOnlyList<string> Corpus(int documents, int seed)
    {
        var rng = new Random(seed);
        var docs = new List<string>();
        for (var d = 0; d < documents; d++)
        {
            var sb = new StringBuilder();
            var sentences = rng.Next(5, 25);
            for (var s = 0; s < sentences; s++)
            {
                var n = rng.Next(4, 16);
                for (var w = 0; w < n; w++)
                {
                    var word = Words[rng.Next(Words.Length)];
                    if (w == 0) word = char.ToUpperInvariant(word[0]) + word[1..];
                    sb.Append(word);
                    sb.Append(w == n - 1 ? (rng.Next(3) == 0 ? "!" : ".") : rng.Next(9) == 0 ? ", " : " ");
                }
                if (rng.Next(20) == 0) sb.Append($" In {1800 + rng.Next(100)} there were {rng.Next(1000)} of them.");
                sb.Append(rng.Next(4) == 0 ? "\n\n" : " ");
            }
            docs.Add(sb.ToString().TrimEnd());
        }
        return docs;
    }
}

public class BpeTrainerTests(TrainedTokenizerFixture fixture) : IClassFixture<TrainedTokenizerFixture>
{
    [Fact]
    public void Trained_file_loads_with_the_asked_vocabulary()
    {
        var tok = fixture.Tokenizer;
        Assert.Equal(TrainedTokenizerFixture.Vocab, tok.VocabSize);
        Assert.Equal(TrainedTokenizerFixture.Vocab, fixture.Model.VocabSize);
        Assert.Equal(0, tok.UnkId);
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Equal(3, tok.TokenToId("<0x00>"));
        Assert.Equal(258, tok.TokenToId("<0xFF>"));
        Assert.NotNull(tok.TokenToId("▁the"));
        Assert.Equal(TrainedTokenizerFixture.Vocab - 259 - fixture.Model.CharacterCount, fixture.Model.Merges.Count);
        Assert.InRange(fixture.Model.CharacterCount, 40, 80);
    }

    [Fact]
    public void Encode_decode_round_trip_and_compression()
    {
        var tok = fixture.Tokenizer;
        foreach (var doc in fixture.Corpus.Take(20))
        {
            var ids = tok.Encode(doc, addBos: true);
            Assert.Equal(1, ids[0]);
            Assert.Equal(doc, tok.Decode(ids));
            Assert.True(ids.Length < doc.Length / 2.5, $"{ids.Length} tokens for {doc.Length} chars");
        }
        Assert.Empty(tok.Encode("", addBos: false));
        Assert.Equal([1], tok.Encode("", addBos: true));
    }

    [Fact]
    public void Unseen_characters_fall_back_to_bytes()
    {
        var tok = fixture.Tokenizer;
        const string text = "Ahab sailed to 東京 — 🐋 café!  Twice  spaced\tand\r\nwindows";
        var ids = tok.Encode(text, addBos: false);
        Assert.Equal(text, tok.Decode(ids));
        Assert.DoesNotContain(0, ids); // never <unk>
        var whale = Encoding.UTF8.GetBytes("🐋").Select(b => BpeTrainer.ByteTokenId(b)).ToArray();
        Assert.True(ids.AsSpan().IndexOf(whale) >= 0);
    }

    [Fact]
    public void File_is_a_llama_style_bpe_tokenizer_json()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(fixture.Folder, "tokenizer.json")));
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        Assert.Equal("BPE", model.GetProperty("type").GetString());
        Assert.True(model.GetProperty("byte_fallback").GetBoolean());
        Assert.Equal("<unk>", model.GetProperty("unk_token").GetString());
        Assert.Equal(TrainedTokenizerFixture.Vocab, model.GetProperty("vocab").EnumerateObject().Count());
        Assert.Equal(fixture.Model.Merges.Count, model.GetProperty("merges").GetArrayLength());
        Assert.Equal("Metaspace", root.GetProperty("pre_tokenizer").GetProperty("type").GetString());
        var added = root.GetProperty("added_tokens").EnumerateArray().Select(a => (a.GetProperty("id").GetInt32(), a.GetProperty("content").GetString())).ToArray();
        Assert.Equal([(0, "<unk>"), (1, "<s>"), (2, "</s>")], added);
        Assert.True(File.Exists(Path.Combine(fixture.Folder, "tokenizer_config.json")));
    }

    [Fact]
    public void Learned_tokens_never_span_a_word_cut()
    {
        var merged = fixture.Model.Tokens.Skip(259 + fixture.Model.CharacterCount).ToList();
        Assert.Equal(fixture.Model.Merges.Count, merged.Count);
        foreach (var token in merged)
        {
            var pieces = BpeTrainer.CutNormalized(token.AsMemory()).Select(p => p.ToString()).ToList();
            Assert.True(pieces.Count == 1, $"token '{token}' spans a cut: {string.Join(" | ", pieces)}");
        }
        Assert.Equal(["▁a", ",", "▁b", "1", "2", "\n\n", "c", "▁", "▁d"],
            BpeTrainer.CutNormalized("▁a,▁b12\n\nc▁▁d".AsMemory()).Select(p => p.ToString()));
    }

    [Fact]
    public void Training_is_deterministic()
    {
        var again = BpeTrainer.Train(fixture.Corpus, new BpeTrainerOptions { VocabSize = TrainedTokenizerFixture.Vocab });
        Assert.Equal(fixture.Model.ToTokenizerJson(), again.ToTokenizerJson());
    }

    [Fact]
    public void Too_small_vocabulary_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train(["abc"], new BpeTrainerOptions { VocabSize = 100 }));
    }
}
