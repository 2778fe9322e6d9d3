using System.Security.Cryptography;
using System.Text.Json;
using Native = Tokenizers.DotNet;

namespace Puzzle.Engine.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> run by Hugging Face's own Rust <c>tokenizers</c> library (through
/// Tokenizers.DotNet), so encodings match what transformers produces for the same file.
/// </summary>
/// <remarks>
/// The native library always applies the file's post-processor (for Llama/Mistral: a leading <c>&lt;s&gt;</c>) and
/// its decoder skips special tokens. This class strips whatever the post-processor adds and puts BOS back only when
/// asked, so <see cref="Encode"/> gives transformers' <c>add_special_tokens=False</c> ids plus an optional BOS.
/// Encode and Decode are safe to call from several threads.
/// </remarks>
public sealed class Tokenizer : IDisposable
{
    static readonly string[] BosNames = ["<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"];
    static readonly string[] EosNames = ["</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"];

    readonly Native.Tokenizer _native;
    readonly Dictionary<string, int> _tokenToId;
    readonly string?[] _idToToken;
    readonly int[] _prefix, _suffix;   // what the post-processor adds around a single sequence

    /// <summary>Full path of the loaded <c>tokenizer.json</c>.</summary>
    public string Path { get; }
    /// <summary>SHA-256 (lowercase hex) of the tokenizer file's bytes.</summary>
    public string Sha256 { get; }
    /// <summary>Largest id in the model vocabulary or the added tokens, plus one.</summary>
    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? UnkId { get; }
    /// <summary>The <c>model.type</c> of the file (BPE, Unigram, WordPiece, ...).</summary>
    public string ModelType { get; }
    /// <summary>The tokenizer library and its version, for manifests.</summary>
    public string Library { get; }

    Tokenizer(string path, string sha, Native.Tokenizer native, Dictionary<string, int> tokenToId, string modelType,
        int? bos, int? eos, int? unk)
    {
        Path = path; Sha256 = sha; _native = native; _tokenToId = tokenToId; ModelType = modelType;
        VocabSize = tokenToId.Count == 0 ? 0 : tokenToId.Values.Max() + 1;
        _idToToken = new string?[VocabSize];
        foreach (var (token, id) in tokenToId) _idToToken[id] ??= token;
        BosId = bos; EosId = eos; UnkId = unk;
        Library = "Tokenizers.DotNet " + native.GetVersion() + " (Hugging Face tokenizers)";
        (_prefix, _suffix) = ProbeAffixes();
    }

    /// <summary>Throws, naming both files, when this tokenizer gives ids that <paramref name="model"/>'s embedding has no
    /// row for (a vocabulary larger than its config.json's <c>vocab_size</c>): the model would fail inside its first
    /// pass. A smaller vocabulary is fine (Llama checkpoints often pad theirs).</summary>
    public void RequireFits(Model.ModelConfig config, string model)
    {
        if (VocabSize > config.VocabSize)
            throw new InvalidDataException($"{Path} gives token ids up to {VocabSize - 1:N0}, but {System.IO.Path.Combine(model, "config.json")} " +
                $"has vocab_size {config.VocabSize:N0}: the model has no embedding for ids from {config.VocabSize:N0} on. " +
                "Use the tokenizer the model was trained with");
    }

    /// <summary>Throws, naming the file, when this tokenizer has no BOS or no EOS token (the data stage needs both): no
    /// tokenizer_config.json beside it names one in the vocabulary, and none of the usual names is there.</summary>
    public void RequireBosAndEos()
    {
        if (BosId is not null && EosId is not null) return;
        var (token, field) = BosId is null ? ("BOS", "bos_token") : ("EOS", "eos_token");
        throw new InvalidDataException($"{Path}: no {token} token: a tokenizer_config.json beside it names none in its vocabulary as {field}, " +
                                       "and none of the usual names is there; the data stage needs both BOS and EOS");
    }

    /// <summary>
    /// Loads a Hugging Face <c>tokenizer.json</c>. BOS/EOS come from a <c>tokenizer_config.json</c> beside it when
    /// there is one, else from the usual special-token names (<c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>, Llama-3's, ...).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a tokenizer.json the library can load.</exception>
    public static Tokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full) && File.Exists(System.IO.Path.Combine(full, "tokenizer.json")))
            full = System.IO.Path.Combine(full, "tokenizer.json");
        if (!File.Exists(full)) throw new FileNotFoundException($"Tokenizer file not found: {full}", full);

        var bytes = File.ReadAllBytes(full);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Dictionary<string, int> vocab;
        string modelType;
        try { (vocab, modelType) = ReadVocabulary(bytes); }
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidDataException(GitLfsPointer.Explain(full, bytes.AsSpan(0, Math.Min(bytes.Length, GitLfsPointer.StartBytes)))
                                           ?? $"{full} is not a valid tokenizer.json: {(e is JsonException json ? JsonErrors.Describe(json) : e.Message)}", e);
        }

        Native.Tokenizer native;
        try { native = new Native.Tokenizer(full); }
        catch (Native.TokenizerException e)
        {
            throw new InvalidDataException($"{full} could not be loaded by the tokenizers library: {e.Message}", e);
        }

        var (bosName, eosName) = ReadConfigSpecials(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, "tokenizer_config.json"));
        int? Find(string? name, string[] fallbacks)
        {
            if (name != null) return vocab.TryGetValue(name, out var id) ? id : null;
            foreach (var n in fallbacks) if (vocab.TryGetValue(n, out var id)) return id;
            return null;
        }
        var bos = Find(bosName, BosNames);
        var eos = Find(eosName, EosNames);
        int? unk = vocab.TryGetValue("<unk>", out var u) ? u : null;
        try { return new Tokenizer(full, sha, native, vocab, modelType, bos, eos, unk); }
        catch { native.Dispose(); throw; }
    }

    /// <summary>Token ids of <paramref name="text"/>, with the BOS id in front when <paramref name="addBos"/>.</summary>
    /// <exception cref="InvalidOperationException">BOS asked for, but the tokenizer has none.</exception>
    public int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (addBos && BosId is null) throw new InvalidOperationException($"{Path} has no BOS token, so addBos cannot be honoured");
        var raw = _native.Encode(text);
        var body = raw.Length - _prefix.Length - _suffix.Length;
        if (body < 0 || !StartsWith(raw, _prefix) || !EndsWith(raw, _suffix))
            throw new InvalidOperationException($"{Path}: the post-processor's special tokens were not where expected when encoding a text of {text.Length} chars");
        var offset = addBos ? 1 : 0;
        var ids = new int[body + offset];
        if (addBos) ids[0] = BosId!.Value;
        for (var i = 0; i < body; i++) ids[offset + i] = checked((int)raw[_prefix.Length + i]);
        return ids;
    }

    /// <summary>The text of <paramref name="ids"/>; special tokens (BOS, EOS, ...) are skipped as transformers'
    /// <c>decode(skip_special_tokens=True)</c> does.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids as IReadOnlyCollection<int> ?? ids.ToArray();
        var raw = new uint[list.Count];
        var i = 0;
        foreach (var id in list)
        {
            if ((uint)id >= (uint)VocabSize) throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id outside the vocabulary of {VocabSize}");
            raw[i++] = (uint)id;
        }
        return raw.Length == 0 ? "" : _native.Decode(raw);
    }

    /// <summary>The token string of an id (as written in the vocabulary), or null for an unused id.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>The id of a token string in the vocabulary or the added tokens.</summary>
    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out var id) ? id : null;

    public void Dispose() => _native.Dispose();

    /// <summary>SHA-256 (lowercase hex) of a tokenizer file, without loading it.</summary>
    public static string HashFile(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    (int[] Prefix, int[] Suffix) ProbeAffixes()
    {
        // The post-processor's output for an empty text is prefix + suffix; a one-character text shows the split.
        var empty = _native.Encode("");
        if (empty.Length == 0) return ([], []);
        var probe = _native.Encode("a");
        for (var k = empty.Length; k >= 0; k--)
        {
            var pre = empty[..k];
            var suf = empty[k..];
            if (probe.Length > empty.Length && StartsWith(probe, pre) && EndsWith(probe, suf))
                return (pre.Select(x => (int)x).ToArray(), suf.Select(x => (int)x).ToArray());
        }
        throw new InvalidDataException($"{Path}: cannot tell which special tokens its post-processor adds");
    }

    static bool StartsWith(uint[] a, IReadOnlyList<int> p) { for (var i = 0; i < p.Count; i++) if (a[i] != (uint)p[i]) return false; return true; }
    static bool EndsWith(uint[] a, IReadOnlyList<int> s) { for (var i = 0; i < s.Count; i++) if (a[a.Length - s.Count + i] != (uint)s[i]) return false; return true; }
    static bool StartsWith(uint[] a, uint[] p) => a.AsSpan().StartsWith(p);
    static bool EndsWith(uint[] a, uint[] s) => a.AsSpan().EndsWith(s);

    static (Dictionary<string, int>, string) ReadVocabulary(byte[] json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException("no \"model\" object");
        var type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
        if (!model.TryGetProperty("vocab", out var v)) throw new InvalidDataException("the model has no \"vocab\"");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        if (v.ValueKind == JsonValueKind.Object)
            foreach (var p in v.EnumerateObject()) vocab[p.Name] = p.Value.GetInt32();
        else if (v.ValueKind == JsonValueKind.Array) // Unigram: [[piece, score], ...], id = position
        {
            var i = 0;
            foreach (var e in v.EnumerateArray()) vocab.TryAdd(e[0].GetString()!, i++);
        }
        else throw new InvalidDataException("\"model.vocab\" is neither an object nor an array");
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var a in added.EnumerateArray())
                vocab[a.GetProperty("content").GetString()!] = a.GetProperty("id").GetInt32();
        if (vocab.Count == 0) throw new InvalidDataException("the vocabulary is empty");
        if (vocab.Values.Any(id => id < 0)) throw new InvalidDataException("negative token id");
        return (vocab, type);
    }

    static (string? Bos, string? Eos) ReadConfigSpecials(string configPath)
    {
        if (!File.Exists(configPath)) return (null, null);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
            static string? Name(JsonElement root, string key) =>
                !root.TryGetProperty(key, out var e) ? null
                : e.ValueKind == JsonValueKind.String ? e.GetString()
                : e.ValueKind == JsonValueKind.Object && e.TryGetProperty("content", out var c) ? c.GetString() : null;
            return (Name(doc.RootElement, "bos_token"), Name(doc.RootElement, "eos_token"));
        }
        catch (JsonException e) { throw new InvalidDataException($"{configPath} is not valid JSON: {JsonErrors.Describe(e)}", e); }
    }
}
