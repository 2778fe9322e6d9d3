using Puzzle.Engine.Data;
using Puzzle.Engine.Tests.Tokenization;
using Puzzle.Engine.Tokenization;
using TorchSharp;
using Xunit;

namespace Puzzle.Engine.Tests.Data;

public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "puzzle-data-" + Guid.NewGuid().ToString("N"));
    public TempFolder() => Directory.CreateDirectory(Path);
    public string Write(string relative, string content)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }
    public void Dispose() { if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true); }
}

public class TokenDatasetTests(MistralTokenizerFixture fixture) : IClassFixture<MistralTokenizerFixture>
{
    readonly Tokenizer _tok = fixture.Tokenizer;
    const int SeqLen = 15;

    /// <summary>Three .txt documents in a sub-folder and a .jsonl with four records (one empty).</summary>
    static List<string> WriteInputs(TempFolder dir)
    {
        var docs = Texts.Corpus(documents: 7, seed: 3).ToList();
        dir.Write("text/a.txt", docs[0]);
        dir.Write("text/b.txt", docs[1].Replace("\n", "\r\n")); // CRLF becomes LF
        dir.Write("text/c.txt", docs[2]);
        dir.Write("recs.jsonl", string.Join("\n",
            System.Text.Json.JsonSerializer.Serialize(new { text = docs[3], id = 1 }),
            "",
            System.Text.Json.JsonSerializer.Serialize(new { text = docs[4] }),
            System.Text.Json.JsonSerializer.Serialize(new { text = "" }),
            System.Text.Json.JsonSerializer.Serialize(new { text = docs[5], other = "x" })) + "\n");
        return [docs[0], docs[1], docs[2], docs[3], docs[4], docs[5]];
    }

    DataBuildResult Build(TempFolder dir, string output, ulong seed = 0, double fraction = 0.25, string[]? inputs = null, long shardBytes = 256L << 20) =>
        TokenDatasetBuilder.Build(_tok, new DataBuildOptions
        {
            Inputs = inputs ?? ["text/*.txt", "recs.jsonl"], BaseDirectory = dir.Path, SeqLen = SeqLen,
            HeldoutFraction = fraction, Seed = seed, ShardBytes = shardBytes,
        }, Path.Combine(dir.Path, output));

    static List<int[]> ReadAll(TokenDataset ds) => Enumerable.Range(0, (int)ds.Count).Select(i => ds.ReadSequence(i)).ToList();

    [Fact]
    public void Packing_stores_every_token_once_in_stream_order()
    {
        using var dir = new TempFolder();
        var docs = WriteInputs(dir);
        // each held-out part's documents (by the hash of their text) form a stream of their own, selection's first
        var parts = HeldoutParts.Assign(docs.Select(d => HeldoutParts.DocumentHash(d, 0)).ToList());
        int[] Stream(DataSplit part) => docs.Where((_, i) => parts[i] == part).SelectMany(d => _tok.Encode(d, addBos: true).Append(_tok.EosId!.Value)).ToArray();
        List<int[]> Chunks(int[] s) => s.Chunk(SeqLen + 1).Where(c => c.Length == SeqLen + 1).ToList();
        var (selecting, evaluating) = (Stream(DataSplit.Selection), Stream(DataSplit.Evaluation));
        var expected = Chunks(selecting).Concat(Chunks(evaluating)).ToList();
        var stream = selecting.Concat(evaluating).ToArray();

        var result = Build(dir, "ds", shardBytes: 5 * (SeqLen + 1) * 2); // 5 sequences per shard: several shards
        var m = result.Manifest;
        Assert.Equal(stream.Length, m.Counts.Tokens);
        Assert.Equal(expected.Count, m.Counts.Sequences);
        Assert.Equal(selecting.Length % (SeqLen + 1) + evaluating.Length % (SeqLen + 1), m.Counts.DroppedTailTokens);
        Assert.Equal(HeldoutParts.ByDocument, m.Split.Parts);
        Assert.Equal(6, m.Counts.Documents);
        Assert.Equal(1, m.Counts.SkippedDocuments);
        Assert.Equal("uint16", m.Dtype);
        Assert.Equal(["text/a.txt", "text/b.txt", "text/c.txt", "recs.jsonl"], m.Sources.Select(s => s.Path));
        Assert.Equal(_tok.Sha256, m.Tokenizer.Sha256);
        Assert.True(m.Train.Shards.Count > 1);

        using var train = TokenDataset.Open(result.Directory, DataSplit.Train);
        using var selection = TokenDataset.Open(result.Directory, DataSplit.Selection);
        using var evaluation = TokenDataset.Open(result.Directory, DataSplit.Evaluation);
        Assert.Equal(expected.Count, train.Count + selection.Count + evaluation.Count);
        // a quarter of each stream, rounded, is held out
        Assert.Equal((int)Math.Round(0.25 * Chunks(selecting).Count, MidpointRounding.AwayFromZero), selection.Count);
        Assert.Equal((int)Math.Round(0.25 * Chunks(evaluating).Count, MidpointRounding.AwayFromZero), evaluation.Count);

        // Each split keeps stream order, and together they hold every full sequence exactly once.
        var seen = new bool[expected.Count];
        foreach (var part in new[] { ReadAll(train), ReadAll(selection), ReadAll(evaluation) })
        {
            var cursor = 0;
            foreach (var seq in part)
            {
                while (cursor < expected.Count && (seen[cursor] || !expected[cursor].SequenceEqual(seq))) cursor++;
                Assert.True(cursor < expected.Count, "a stored sequence is not a chunk of the token stream (or out of order)");
                seen[cursor++] = true;
            }
        }
        Assert.All(seen, Assert.True);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(dir.Path), e => Path.GetFileName(e).StartsWith('.'));
        Assert.False(File.Exists(Path.Combine(result.Directory, "all.tokens.tmp")));
    }

    [Fact]
    public void Split_is_deterministic_for_a_seed_and_changes_with_it()
    {
        using var dir = new TempFolder();
        var docs = Texts.Corpus(documents: 12, seed: 9);
        for (var i = 0; i < docs.Count; i++) dir.Write($"in/{i:D2}.txt", docs[i]);
        string[] inputs = ["in/*.txt"];
        var a = Build(dir, "a", seed: 1, inputs: inputs);
        var b = Build(dir, "b", seed: 1, inputs: inputs);
        var c = Build(dir, "c", seed: 2, inputs: inputs);
        Assert.True(a.Manifest.Counts.Sequences >= 40);
        Assert.Equal(File.ReadAllText(Path.Combine(a.Directory, "dataset.json")), File.ReadAllText(Path.Combine(b.Directory, "dataset.json")));

        static HashSet<string> Held(string d)
        {
            using var selection = TokenDataset.Open(d, DataSplit.Selection);
            using var evaluation = TokenDataset.Open(d, DataSplit.Evaluation);
            return ReadAll(selection).Select(s => "s" + string.Join(",", s)).Concat(ReadAll(evaluation).Select(s => "e" + string.Join(",", s))).ToHashSet();
        }
        Assert.True(Held(a.Directory).SetEquals(Held(b.Directory)));
        Assert.False(Held(a.Directory).SetEquals(Held(c.Directory)));
        Assert.Equal(2UL, c.Manifest.Split.Seed);
    }

    [Fact]
    public void Batches_are_int64_tensors_and_epochs_shuffle_deterministically()
    {
        using var dir = new TempFolder();
        WriteInputs(dir);
        var result = Build(dir, "ds");
        using var ds = TokenDataset.Open(result.Directory);
        long[] idx = [2, 0, ds.Count - 1];
        using var batch = ds.GetBatch(idx);
        Assert.Equal(torch.int64, batch.dtype);
        Assert.Equal([3L, SeqLen + 1], batch.shape);
        for (var b = 0; b < idx.Length; b++)
            Assert.Equal(ds.ReadSequence(idx[b]).Select(x => (long)x), batch[b].data<long>().ToArray());

        var e0 = ds.EpochOrder(seed: 5, epoch: 0);
        Assert.Equal(Enumerable.Range(0, (int)ds.Count).Select(i => (long)i), e0.Order());
        Assert.Equal(e0, ds.EpochOrder(seed: 5, epoch: 0));
        Assert.NotEqual(e0, ds.EpochOrder(seed: 5, epoch: 1));
        Assert.NotEqual(e0, ds.EpochOrder(seed: 6, epoch: 0));
        var batches = ds.Batches(batchSize: 4, seed: 5, epoch: 0).ToList();
        Assert.Equal((int)(ds.Count / 4), batches.Count);
        Assert.Equal(e0.Take(batches.Count * 4), batches.SelectMany(x => x));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.ReadSequence(ds.Count));
        ds.RequireTokenizer(_tok);
        using var other = Tokenizer.Load(BpeTrainer.Train(Texts.Corpus(5, 1), new BpeTrainerOptions { VocabSize = 300 }).Save(Path.Combine(dir.Path, "tok")));
        Assert.Throws<InvalidOperationException>(() => ds.RequireTokenizer(other));
    }

    [Fact]
    public void Bad_jsonl_line_error_names_file_and_line()
    {
        using var dir = new TempFolder();
        var path = dir.Write("bad.jsonl", "{\"text\": \"fine\"}\n\n{\"text\": \"also fine\"\n");
        var e = Assert.Throws<InvalidDataException>(() => DocumentReader.Read(path).ToList());
        Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(path)}:3: not valid JSON: column \\d+: ", e.Message);
        Assert.DoesNotContain("LineNumber", e.Message); // .NET's 0-based position, which contradicted the line named

        var missing = dir.Write("nofield.jsonl", "{\"text\": \"fine\"}\n{\"body\": \"x\"}\n");
        e = Assert.Throws<InvalidDataException>(() => DocumentReader.Read(missing).ToList());
        Assert.Contains($"{missing}:2", e.Message);
        Assert.Contains("\"text\"", e.Message);

        var body = dir.Write("body.jsonl", "{\"body\": \"x\"}\r\n{\"body\": \"y\\r\\nz\"}\n");
        Assert.Equal([new Document("x", 1), new Document("y\nz", 2)], DocumentReader.Read(body, jsonlField: "body"));
    }

    [Fact]
    public void A_text_file_that_is_no_utf8_text_fails_naming_it_and_utf8_or_utf16_with_a_mark_reads()
    {
        using var dir = new TempFolder();
        var latin1 = dir.Path + "/latin1.txt";
        File.WriteAllBytes(latin1, [.. "caf"u8, 0xE9, .. " noir"u8]); // é in Latin-1
        var e = Assert.Throws<InvalidDataException>(() => DocumentReader.Read(latin1).ToList());
        Assert.StartsWith($"{latin1}: not UTF-8 text (bytes that are no UTF-8 at offset 3)", e.Message);

        var binary = dir.Path + "/nul.txt";
        File.WriteAllBytes(binary, [.. "ab"u8, 0, .. "cd"u8]);
        e = Assert.Throws<InvalidDataException>(() => DocumentReader.Read(binary).ToList());
        Assert.StartsWith($"{binary}: not text (a NUL character at character 2)", e.Message);

        var marked = dir.Path + "/bom.txt";
        File.WriteAllBytes(marked, [0xEF, 0xBB, 0xBF, .. "café\r\nnoir"u8]);
        Assert.Equal([new Document("café\nnoir", 0)], DocumentReader.Read(marked));
        File.WriteAllText(marked, "café noir", System.Text.Encoding.Unicode); // UTF-16 with its mark
        Assert.Equal([new Document("café noir", 0)], DocumentReader.Read(marked));
    }

    [Fact]
    public void A_json_lines_file_that_is_no_utf8_text_fails_naming_the_line_and_utf8_or_utf16_with_a_mark_reads()
    {
        using var dir = new TempFolder();
        var latin1 = dir.Path + "/latin1.jsonl";
        var good = string.Concat(Enumerable.Repeat("{\"text\": \"fine\"}\n", 2000)); // past the reader's buffer
        File.WriteAllBytes(latin1, [.. System.Text.Encoding.UTF8.GetBytes(good), .. "{\"text\": \"caf"u8, 0xE9, .. "\"}\n"u8]); // é in Latin-1
        var e = Assert.Throws<InvalidDataException>(() => DocumentReader.Read(latin1).ToList());
        Assert.StartsWith($"{latin1}:2001: not UTF-8 text (bytes that are no UTF-8 at byte 14 of the line)", e.Message);

        File.WriteAllBytes(latin1, [0xEF, 0xBB, 0xBF, .. "{\"text\": \"caf"u8, 0xE9, .. "\"}\n"u8]); // a UTF-8 mark does not make it lenient
        e = Assert.Throws<InvalidDataException>(() => DocumentReader.Read(latin1).ToList());
        Assert.StartsWith($"{latin1}:1: not UTF-8 text", e.Message);

        var marked = dir.Path + "/bom.jsonl";
        File.WriteAllBytes(marked, [0xEF, 0xBB, 0xBF, .. "{\"text\": \"café\"}\r\n{\"text\": \"noir\"}\n"u8]);
        Assert.Equal([new Document("café", 1), new Document("noir", 2)], DocumentReader.Read(marked));
        File.WriteAllText(marked, "{\"text\": \"café noir\"}\n", System.Text.Encoding.Unicode); // UTF-16 with its mark
        Assert.Equal([new Document("café noir", 1)], DocumentReader.Read(marked));
    }

    [Fact]
    public void Training_a_tokenizer_on_empty_files_names_them()
    {
        using var dir = new TempFolder();
        dir.Write("empty.txt", "");
        dir.Write("blank.txt", "");

        var e = Assert.Throws<InvalidDataException>(() => Puzzle.Engine.Tokenization.BpeTrainer.TrainOnFiles(["*.txt"], dir.Path));

        Assert.Contains("the training text is empty, nothing to train a tokenizer on:", e.Message);
        Assert.Contains("empty.txt", e.Message);
        Assert.Contains("blank.txt", e.Message);
    }

    [Fact]
    public void Missing_input_errors_name_the_pattern()
    {
        using var dir = new TempFolder();
        dir.Write("data/x.txt", "hello");
        var e = Assert.Throws<FileNotFoundException>(() => InputFiles.Resolve(["data/*.txt", "data/nothing-*.txt"], dir.Path));
        Assert.Contains("data/nothing-*.txt", e.Message);
        e = Assert.Throws<FileNotFoundException>(() => InputFiles.Resolve(["data/y.txt"], dir.Path));
        Assert.Contains("data/y.txt", e.Message);
        Assert.Throws<InvalidDataException>(() => InputFiles.Resolve([dir.Write("data/z.csv", "a,b")], dir.Path));
    }

    [Fact]
    public void Globs_recurse_sort_and_deduplicate()
    {
        using var dir = new TempFolder();
        dir.Write("d/b.txt", "b"); dir.Write("d/a.txt", "a"); dir.Write("d/sub/c.txt", "c"); dir.Write("d/sub/deep/e.jsonl", "{}");
        string Rel(string p) => Path.GetRelativePath(dir.Path, p).Replace('\\', '/');
        Assert.Equal(["d/a.txt", "d/b.txt"], InputFiles.Resolve(["d/*.txt"], dir.Path).Select(Rel));
        Assert.Equal(["d/a.txt", "d/b.txt", "d/sub/c.txt"], InputFiles.Resolve(["d/**/*.txt"], dir.Path).Select(Rel));
        Assert.Equal(["d/sub/c.txt", "d/a.txt", "d/b.txt", "d/sub/deep/e.jsonl"],
            InputFiles.Resolve(["d/sub/c.txt", "d/*.txt", "d/**/*.jsonl", "d/a.txt"], dir.Path).Select(Rel));
        Assert.Equal(["d/a.txt", "d/b.txt"], InputFiles.Resolve([Path.Combine(dir.Path, "d", "?.txt")], "/nonexistent").Select(Rel));
    }

    [Fact]
    public void Failure_midway_leaves_no_folder_behind()
    {
        using var dir = new TempFolder();
        WriteInputs(dir);
        dir.Write("zz-bad.jsonl", "{\"text\": \"good line\"}\n[1, 2]\n");
        var e = Assert.Throws<InvalidDataException>(() => Build(dir, "out", inputs: ["text/*.txt", "zz-bad.jsonl"]));
        Assert.Contains("zz-bad.jsonl:2", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "out")));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(dir.Path), p => Path.GetFileName(p).StartsWith(".out"));

        // An existing dataset is neither touched by a failed rebuild nor overwritten unless asked.
        var first = Build(dir, "out");
        Assert.Throws<IOException>(() => Build(dir, "out"));
        Assert.Throws<InvalidDataException>(() => TokenDatasetBuilder.Build(_tok,
            new DataBuildOptions { Inputs = ["zz-bad.jsonl"], BaseDirectory = dir.Path, SeqLen = SeqLen }, first.Directory, overwrite: true));
        using (var ds = TokenDataset.Open(first.Directory)) Assert.Equal(first.Manifest.Train.Sequences, ds.Count);
        var second = TokenDatasetBuilder.Build(_tok,
            new DataBuildOptions { Inputs = ["text/a.txt"], BaseDirectory = dir.Path, SeqLen = SeqLen }, first.Directory, overwrite: true);
        Assert.Equal(["text/a.txt"], DatasetManifest.Read(second.Directory).Sources.Select(s => s.Path));
        Assert.Single(Directory.GetFileSystemEntries(dir.Path), p => Path.GetFileName(p).StartsWith(".out") || Path.GetFileName(p) == "out");
    }

    [Fact]
    public void Too_little_text_is_an_error()
    {
        using var dir = new TempFolder();
        dir.Write("tiny.txt", "Call me Ishmael.");
        var e = Assert.Throws<InvalidDataException>(() => TokenDatasetBuilder.Build(_tok,
            new DataBuildOptions { Inputs = ["tiny.txt"], BaseDirectory = dir.Path, SeqLen = 64 }, Path.Combine(dir.Path, "out")));
        Assert.Contains("fewer than one sequence", e.Message);
        Assert.EndsWith("add text (data.train or data.npm) or lower data.seq_len", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "out")));
    }
}
