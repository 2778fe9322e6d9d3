using System.Diagnostics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Puzzle.Engine.Tokenization;

/// <summary>Settings of <see cref="BpeTrainer"/>.</summary>
public sealed record BpeTrainerOptions
{
    /// <summary>Final vocabulary size: 3 specials + 256 byte tokens + kept characters + merges.</summary>
    public int VocabSize { get; init; } = 4096;
    /// <summary>A pair seen fewer times than this is never merged (training may stop below <see cref="VocabSize"/>).</summary>
    public int MinFrequency { get; init; } = 2;
    /// <summary>Share of character occurrences the kept characters must cover; rarer characters are encoded as
    /// UTF-8 byte tokens (SentencePiece's character_coverage).</summary>
    public double CharacterCoverage { get; init; } = 0.9995;
    /// <summary>Longest token, in Unicode characters.</summary>
    public int MaxTokenLength { get; init; } = 16;
}

/// <summary>What <see cref="BpeTrainer.Train"/> learned.</summary>
public sealed class BpeModel
{
    /// <summary>Token strings by id: <c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>,
    /// the kept characters, then one token per merge.</summary>
    public required IReadOnlyList<string> Tokens { get; init; }
    /// <summary>Merges in rank order.</summary>
    public required IReadOnlyList<(string Left, string Right)> Merges { get; init; }
    public required int CharacterCount { get; init; }
    public required int UniqueWords { get; init; }
    public required long TrainingCharacters { get; init; }
    public required TimeSpan Elapsed { get; init; }

    public int VocabSize => Tokens.Count;

    /// <summary>The Hugging Face <c>tokenizer.json</c> text (Llama/Mistral layout: ▁ metaspace, BPE with byte fallback,
    /// <c>&lt;s&gt;</c> added in front by the post-processor).</summary>
    public string ToTokenizerJson() => BpeTrainer.WriteTokenizerJson(this);

    /// <summary>Writes <c>tokenizer.json</c> and a matching <c>tokenizer_config.json</c> into <paramref name="directory"/>
    /// (each written to a temporary name and renamed); returns the tokenizer.json path.</summary>
    public string Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "tokenizer.json");
        WriteAtomically(path, ToTokenizerJson());
        WriteAtomically(Path.Combine(directory, "tokenizer_config.json"), BpeTrainer.TokenizerConfigJson);
        return path;
    }

    static void WriteAtomically(string path, string text) =>
        Checkpoints.AtomicFile.Write(path, temp => File.WriteAllText(temp, text, new UTF8Encoding(false)));
}

/// <summary>
/// Trains a byte-fallback BPE vocabulary in the Llama/Mistral style (neither Tokenizers.DotNet nor
/// Microsoft.ML.Tokenizers 2.x can train one). Text is normalised as the written tokenizer.json does it (a ▁ in front,
/// spaces to ▁), split into words at each ▁ (Metaspace) and between letters, digits, newlines and punctuation, and
/// pairs of symbols are merged most
/// frequent first (ties: smaller ids first) until the vocabulary is full. Characters outside the coverage and
/// anything unseen are encoded through the 256 byte tokens, so every text round-trips. The result is an ordinary
/// tokenizer.json that <see cref="Tokenizer"/> and Hugging Face tools load.
/// </summary>
public static class BpeTrainer
{
    public const char Metaspace = '\u2581';
    public const string Unk = "<unk>", Bos = "<s>", Eos = "</s>";
    const int ByteBase = 3, FirstChar = ByteBase + 256;
    const int Barrier = -1; // a character that falls back to bytes: no pair crosses it

    internal const string TokenizerConfigJson = """
        {
          "tokenizer_class": "PreTrainedTokenizerFast",
          "bos_token": "<s>",
          "eos_token": "</s>",
          "unk_token": "<unk>",
          "add_bos_token": true,
          "add_eos_token": false,
          "clean_up_tokenization_spaces": false,
          "model_max_length": 1000000000
        }

        """;

    /// <summary>Trains on <paramref name="documents"/> (each normalised separately, as the tokenizer does per text).</summary>
    public static BpeModel Train(IEnumerable<string> documents, BpeTrainerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(documents);
        options ??= new BpeTrainerOptions();
        if (options.VocabSize < FirstChar + 1) throw new ArgumentOutOfRangeException(nameof(options), $"vocab size must be at least {FirstChar + 1} (3 specials + 256 bytes + 1), got {options.VocabSize}");
        if (options.MaxTokenLength < 2) throw new ArgumentOutOfRangeException(nameof(options), "max token length must be at least 2");
        if (options.CharacterCoverage is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(options), "character coverage must be in (0, 1]");
        var clock = Stopwatch.StartNew();

        // 1. Word frequencies.
        var words = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = words.GetAlternateLookup<ReadOnlySpan<char>>();
        long chars = 0;
        var buffer = new StringBuilder();
        foreach (var doc in documents)
        {
            if (string.IsNullOrEmpty(doc)) continue;
            chars += doc.Length;
            foreach (var word in SplitWords(doc, buffer))
            {
                ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(lookup, word.Span, out _);
                count++;
            }
        }
        if (words.Count == 0) throw new ArgumentException("no training text", nameof(documents));

        // 2. Characters to keep (by frequency, until the coverage is reached and the vocabulary has room).
        var charCounts = new Dictionary<int, long>();
        foreach (var (w, n) in words)
            foreach (var r in w.EnumerateRunes()) { charCounts.TryGetValue(r.Value, out var c); charCounts[r.Value] = c + n; }
        var total = charCounts.Values.Sum();
        var ordered = charCounts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).ToList();
        var kept = new List<int>();
        long covered = 0;
        foreach (var (cp, n) in ordered)
        {
            if (kept.Count >= options.VocabSize - FirstChar) break;
            if (kept.Count > 0 && covered >= options.CharacterCoverage * total) break;
            kept.Add(cp); covered += n;
        }
        var tokens = new List<string>(options.VocabSize) { Unk, Bos, Eos };
        for (var b = 0; b < 256; b++) tokens.Add($"<0x{b:X2}>");
        var charId = new Dictionary<int, int>();
        foreach (var cp in kept) { charId[cp] = tokens.Count; tokens.Add(char.ConvertFromUtf32(cp)); }
        var tokenLength = new List<int>(Enumerable.Repeat(1, tokens.Count));

        // 3. Words as symbol arrays; pair statistics.
        var wordSyms = new List<int[]>(words.Count);
        var wordCount = new List<long>(words.Count);
        foreach (var (w, n) in words)
        {
            var syms = new List<int>(w.Length);
            foreach (var r in w.EnumerateRunes()) syms.Add(charId.TryGetValue(r.Value, out var id) ? id : Barrier);
            if (syms.Count < 2) continue;
            wordSyms.Add(syms.ToArray()); wordCount.Add(n);
        }
        var pairCount = new Dictionary<long, long>();
        var where = new Dictionary<long, HashSet<int>>();
        for (var wi = 0; wi < wordSyms.Count; wi++) AddPairs(wi, +1);

        var queue = new PriorityQueue<long, (long Count, long Key)>(Comparer<(long Count, long Key)>.Create(
            (x, y) => x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Key.CompareTo(y.Key)));
        foreach (var (key, n) in pairCount) if (n > 0) queue.Enqueue(key, (n, key));

        // 4. Merge.
        var merges = new List<(string, string)>();
        var touched = new HashSet<long>();
        while (tokens.Count < options.VocabSize && queue.TryDequeue(out var best, out var prio))
        {
            var current = pairCount.GetValueOrDefault(best);
            if (current != prio.Count) { if (current > 0) queue.Enqueue(best, (current, best)); continue; }
            if (current < options.MinFrequency) break;
            var (a, b) = ((int)(best >> 32), (int)(best & 0xffffffff));
            if (tokenLength[a] + tokenLength[b] > options.MaxTokenLength) continue;
            var merged = tokens.Count;
            tokens.Add(tokens[a] + tokens[b]);
            tokenLength.Add(tokenLength[a] + tokenLength[b]);
            merges.Add((tokens[a], tokens[b]));
            touched.Clear();
            foreach (var wi in where[best].ToArray())
            {
                var syms = wordSyms[wi];
                if (!Contains(syms, a, b)) continue;
                AddPairs(wi, -1);
                wordSyms[wi] = syms = Apply(syms, a, b, merged);
                AddPairs(wi, +1);
                for (var i = 0; i + 1 < syms.Length; i++)
                    if (syms[i] == merged || syms[i + 1] == merged) touched.Add(Key(syms[i], syms[i + 1]));
            }
            where.Remove(best); // every occurrence is merged now
            pairCount.Remove(best);
            foreach (var key in touched) { var n = pairCount.GetValueOrDefault(key); if (n > 0) queue.Enqueue(key, (n, key)); }
        }

        return new BpeModel
        {
            Tokens = tokens, Merges = merges, CharacterCount = kept.Count, UniqueWords = words.Count,
            TrainingCharacters = chars, Elapsed = clock.Elapsed,
        };

        void AddPairs(int wi, int sign)
        {
            var syms = wordSyms[wi];
            var n = wordCount[wi] * sign;
            for (var i = 0; i + 1 < syms.Length; i++)
            {
                if (syms[i] == Barrier || syms[i + 1] == Barrier) continue;
                var key = Key(syms[i], syms[i + 1]);
                ref var c = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(pairCount, key, out _);
                c += n;
                if (sign > 0)
                {
                    if (!where.TryGetValue(key, out var set)) where[key] = set = [];
                    set.Add(wi);
                }
            }
        }
    }

    /// <summary>Trains on the documents of input files and globs, read as the data stage reads them
    /// (<see cref="Data.InputFiles"/>, <see cref="Data.DocumentReader"/>).</summary>
    public static BpeModel TrainOnFiles(IEnumerable<string> inputs, string? baseDirectory = null, BpeTrainerOptions? options = null,
        string jsonlField = Data.DocumentReader.DefaultJsonlField)
    {
        var files = Data.InputFiles.Resolve(inputs, baseDirectory);
        try { return Train(files.SelectMany(f => Data.DocumentReader.Read(f, jsonlField)).Select(d => d.Text), options); }
        catch (ArgumentException e) when (e.ParamName == "documents")
        {
            throw new InvalidDataException($"the training text is empty, nothing to train a tokenizer on: {string.Join(", ", files.Take(5))}" +
                                           (files.Count > 5 ? $" and {files.Count - 5} more" : ""), e);
        }
    }

    static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    static bool Contains(int[] s, int a, int b)
    {
        for (var i = 0; i + 1 < s.Length; i++) if (s[i] == a && s[i + 1] == b) return true;
        return false;
    }

    static int[] Apply(int[] s, int a, int b, int merged)
    {
        var r = new List<int>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (i + 1 < s.Length && s[i] == a && s[i + 1] == b) { r.Add(merged); i++; }
            else r.Add(s[i]);
        }
        return r.ToArray();
    }

    /// <summary>
    /// The training words of one document: "▁" + text with spaces as ▁ (the tokenizer's normaliser), cut before every
    /// ▁ (its Metaspace pre-tokenizer) and, as SentencePiece does for Llama, between letters, digits (each digit
    /// alone), newline runs and other characters, though never right after a ▁. Since no learned token spans a cut,
    /// the tokenizer encoding a whole ▁-word gives the same ids as encoding these pieces one by one.
    /// </summary>
    static IEnumerable<ReadOnlyMemory<char>> SplitWords(string text, StringBuilder sb)
    {
        sb.Clear();
        sb.Append(Metaspace);
        foreach (var ch in text) sb.Append(ch == ' ' ? Metaspace : ch);
        return CutNormalized(sb.ToString().AsMemory());
    }

    /// <summary>The pieces of an already normalised text (what <see cref="SplitWords"/> cuts).</summary>
    internal static IEnumerable<ReadOnlyMemory<char>> CutNormalized(ReadOnlyMemory<char> normalized)
    {
        var start = 0;
        for (var i = 1; i <= normalized.Length; i++)
        {
            if (i < normalized.Length && !Cut(normalized.Span[i - 1], normalized.Span[i])) continue;
            yield return normalized[start..i];
            start = i;
        }
    }

    /// <summary>Whether a training word is cut between two adjacent characters. Depends on those two only, so the
    /// tokenizer, which sees whole ▁-words, never finds a learned token across a cut.</summary>
    static bool Cut(char prev, char c)
    {
        if (c == Metaspace) return true;               // every ▁ starts a word (Metaspace split)
        if (prev == Metaspace) return false;           // ▁ sticks to what follows
        var (a, b) = (Class(prev), Class(c));
        return a != b || a == CharClass.Digit;         // letters | digits one by one | newlines | other
    }

    enum CharClass { Letter, Digit, Newline, Other }

    static CharClass Class(char c) =>
        c == '\n' ? CharClass.Newline
        : char.IsDigit(c) ? CharClass.Digit
        : char.IsLetter(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark
            or System.Globalization.UnicodeCategory.SpacingCombiningMark or System.Globalization.UnicodeCategory.EnclosingMark ? CharClass.Letter
        : CharClass.Other;

    internal static string WriteTokenizerJson(BpeModel model)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            foreach (var (id, content) in new[] { (0, Unk), (1, Bos), (2, Eos) })
            {
                w.WriteStartObject();
                w.WriteNumber("id", id); w.WriteString("content", content);
                w.WriteBoolean("single_word", false); w.WriteBoolean("lstrip", false); w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false); w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();

            w.WriteStartObject("normalizer");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("normalizers");
            w.WriteStartObject(); w.WriteString("type", "Prepend"); w.WriteString("prepend", "\u2581"); w.WriteEndObject();
            w.WriteStartObject(); w.WriteString("type", "Replace");
            w.WriteStartObject("pattern"); w.WriteString("String", " "); w.WriteEndObject();
            w.WriteString("content", "\u2581"); w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();

            w.WriteStartObject("pre_tokenizer");
            w.WriteString("type", "Metaspace"); w.WriteString("replacement", "\u2581");
            w.WriteString("prepend_scheme", "never"); w.WriteBoolean("split", true);
            w.WriteEndObject();

            w.WriteStartObject("post_processor");
            w.WriteString("type", "TemplateProcessing");
            w.WriteStartArray("single");
            Special(w, Bos, 0); Sequence(w, "A", 0);
            w.WriteEndArray();
            w.WriteStartArray("pair");
            Special(w, Bos, 0); Sequence(w, "A", 0); Special(w, Bos, 1); Sequence(w, "B", 1);
            w.WriteEndArray();
            w.WriteStartObject("special_tokens");
            w.WriteStartObject(Bos);
            w.WriteString("id", Bos);
            w.WriteStartArray("ids"); w.WriteNumberValue(1); w.WriteEndArray();
            w.WriteStartArray("tokens"); w.WriteStringValue(Bos); w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();

            w.WriteStartObject("decoder");
            w.WriteString("type", "Sequence");
            w.WriteStartArray("decoders");
            w.WriteStartObject(); w.WriteString("type", "Replace");
            w.WriteStartObject("pattern"); w.WriteString("String", "\u2581"); w.WriteEndObject();
            w.WriteString("content", " "); w.WriteEndObject();
            w.WriteStartObject(); w.WriteString("type", "ByteFallback"); w.WriteEndObject();
            w.WriteStartObject(); w.WriteString("type", "Fuse"); w.WriteEndObject();
            w.WriteStartObject(); w.WriteString("type", "Strip"); w.WriteString("content", " ");
            w.WriteNumber("start", 1); w.WriteNumber("stop", 0); w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();

            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteString("unk_token", Unk);
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", true);
            w.WriteBoolean("byte_fallback", true);
            w.WriteStartObject("vocab");
            for (var i = 0; i < model.Tokens.Count; i++) w.WriteNumber(model.Tokens[i], i);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (l, r) in model.Merges) w.WriteStringValue(l + " " + r); // tokens never hold ' ' (it becomes ▁)
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";

        static void Special(Utf8JsonWriter w, string id, int typeId)
        {
            w.WriteStartObject(); w.WriteStartObject("SpecialToken");
            w.WriteString("id", id); w.WriteNumber("type_id", typeId);
            w.WriteEndObject(); w.WriteEndObject();
        }
        static void Sequence(Utf8JsonWriter w, string id, int typeId)
        {
            w.WriteStartObject(); w.WriteStartObject("Sequence");
            w.WriteString("id", id); w.WriteNumber("type_id", typeId);
            w.WriteEndObject(); w.WriteEndObject();
        }
    }

    /// <summary>Id of the byte-fallback token <c>&lt;0xNN&gt;</c> (ids 3..258, Llama/Mistral order).</summary>
    public static int ByteTokenId(byte b) => ByteBase + b;
}
