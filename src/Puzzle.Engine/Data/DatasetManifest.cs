using System.Text.Json;
using System.Text.Json.Serialization;

namespace Puzzle.Engine.Data;

/// <summary>The parts of a token dataset.</summary>
public enum DataSplit
{
    /// <summary>What the parent, BLD and GKD train on.</summary>
    Train,
    /// <summary>Held-out text that chooses: Score's replace-1-block scores and BLD's and GKD's held-out checks.</summary>
    Selection,
    /// <summary>Held-out text that only measures: Evaluate, its generated task, <c>puzzle eval</c>, the parent's report.</summary>
    Evaluation,
}

/// <summary>
/// <c>dataset.json</c>: what a token dataset folder holds and how it was made. Deterministic: the same inputs,
/// tokenizer and settings give a byte-identical manifest (no timestamps or host names; those belong to the cache).
/// </summary>
/// <remarks>
/// Shard files are flat arrays of little-endian tokens (<see cref="Dtype"/> <c>uint16</c> when every id fits, else
/// <c>int32</c>); sequence <c>i</c> of a shard is tokens <c>[i·(seq_len+1), (i+1)·(seq_len+1))</c>: the model input is
/// its first seq_len tokens and the target the last seq_len.
/// </remarks>
public sealed record DatasetManifest
{
    public const string FileName = "dataset.json";
    public const string FormatName = "puzzle-token-dataset";
    /// <summary>2: the held-out sequences are stored as a selection and an evaluation part, disjoint by document.</summary>
    public const int CurrentVersion = 2;

    public string Format { get; init; } = FormatName;
    public int Version { get; init; } = CurrentVersion;
    public required TokenizerInfo Tokenizer { get; init; }
    public required int SeqLen { get; init; }
    public required string Dtype { get; init; }
    public required SplitInfo Split { get; init; }
    public required IReadOnlyList<SourceInfo> Sources { get; init; }
    public required CountInfo Counts { get; init; }
    public required SplitData Train { get; init; }
    public required SplitData Selection { get; init; }
    public required SplitData Evaluation { get; init; }

    /// <summary>Tokens per stored sequence: seq_len + 1.</summary>
    [JsonIgnore] public int SequenceTokens => SeqLen + 1;
    [JsonIgnore] public int TokenBytes => Dtype == "uint16" ? 2 : 4;

    public SplitData Part(DataSplit split) => split switch
    {
        DataSplit.Train => Train,
        DataSplit.Selection => Selection,
        DataSplit.Evaluation => Evaluation,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
    };

    public sealed record TokenizerInfo(string Path, string Sha256, int VocabSize, int BosId, int EosId, string Library);
    /// <param name="Method">How sequences were held out: <c>content-hash</c> = in each part's token stream, the
    /// round(fraction·N) sequences (at least one, at most N−1; with <c>parts: position</c>, of the one stream, at least
    /// two) with the smallest seeded 64-bit hash of their tokens are held out, so an assignment depends on a sequence's
    /// content and the seed, not on its position.</param>
    /// <param name="Parts">How the held-out sequences were divided between selection and evaluation:
    /// <c>document</c> (each document belongs to one part by a seeded hash of its text; each part's documents are packed
    /// into their own stream, so no sequence holds text of both) or <c>position</c> (the fallback for text that cannot be
    /// divided by document, such as one document: the earlier half of the held-out sequences selects, the later half
    /// evaluates; see <see cref="HeldoutParts"/>).</param>
    public sealed record SplitInfo(ulong Seed, double HeldoutFraction, string Method, string Parts);
    public sealed record SourceInfo(string Path, string Sha256, long Bytes, long Documents, long Tokens);
    /// <param name="DroppedTailTokens">Tokens after the last full sequence, not stored.</param>
    /// <param name="Documents">Documents stored: those with text, each text once.</param>
    /// <param name="SkippedDocuments">Documents with empty text.</param>
    /// <param name="DuplicateDocuments">Documents left out because an earlier one has the same text (a copy of a held-out
    /// passage would otherwise be trained on).</param>
    public sealed record CountInfo(long Documents, long SkippedDocuments, long Tokens, long Sequences, long DroppedTailTokens, long DuplicateDocuments = 0);
    /// <param name="Documents">Documents with at least one token in this part's sequences.</param>
    public sealed record SplitData(long Sequences, long Documents, IReadOnlyList<ShardInfo> Shards);
    public sealed record ShardInfo(string File, long Sequences, string Sha256);

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions) + "\n";

    /// <summary>Reads <c>dataset.json</c> from a dataset folder.</summary>
    /// <exception cref="FileNotFoundException">No manifest (also: a folder that was never completely written).</exception>
    /// <exception cref="InvalidDataException">The manifest is unreadable or of another format/version.</exception>
    public static DatasetManifest Read(string directory)
    {
        var path = System.IO.Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"Not a token dataset (no {FileName}): {System.IO.Path.GetFullPath(directory)}", path);
        DatasetManifest? m;
        try { m = JsonSerializer.Deserialize<DatasetManifest>(File.ReadAllText(path), JsonOptions); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: unreadable manifest: {e.Message}", e); }
        if (m is null || m.Format != FormatName) throw new InvalidDataException($"{path}: not a {FormatName} manifest");
        if (m.Version != CurrentVersion) throw new InvalidDataException($"{path}: format version {m.Version}, this build reads {CurrentVersion}; rebuild the dataset");
        if (m.Dtype is not ("uint16" or "int32")) throw new InvalidDataException($"{path}: unknown dtype '{m.Dtype}'");
        if (m.SeqLen < 1) throw new InvalidDataException($"{path}: seq_len {m.SeqLen}");
        return m;
    }
}
