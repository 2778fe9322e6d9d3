using System.Diagnostics;
using System.Security.Cryptography;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data.Internal;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Data;

/// <summary>Settings of <see cref="TokenDatasetBuilder.Build"/>.</summary>
public sealed record DataBuildOptions
{
    /// <summary>Input files and globs (.txt: one document per file; .jsonl: one per line).</summary>
    public required IReadOnlyList<string> Inputs { get; init; }
    /// <summary>Folder relative inputs are resolved against (default: the current directory); also how sources are
    /// named in the manifest.</summary>
    public string? BaseDirectory { get; init; }
    public string JsonlField { get; init; } = DocumentReader.DefaultJsonlField;
    /// <summary>Model context length; sequences store seq_len + 1 tokens.</summary>
    public required int SeqLen { get; init; }
    public double HeldoutFraction { get; init; } = 0.05;
    public ulong Seed { get; init; }
    /// <summary>Upper bound on one shard file's size.</summary>
    public long ShardBytes { get; init; } = 256L << 20;
    /// <summary>Threads that tokenize (default: all cores).</summary>
    public int? Threads { get; init; }
}

/// <summary>What a build did, beside the manifest it wrote.</summary>
public sealed record DataBuildResult(string Directory, DatasetManifest Manifest, TimeSpan Elapsed, TimeSpan TokenizeTime, long TextChars);

/// <summary>
/// Tokenizes text once and stores it as packed token shards in three parts (train, and a held-out text divided into
/// selection and evaluation), for every later stage to read through <see cref="TokenDataset"/> without tokenizing again.
/// </summary>
/// <remarks>
/// Each document becomes BOS + tokens + EOS (a document with the text of an earlier one is left out, logged as a
/// warning: in the same part's stream, a held-out passage of one copy would be trained on in the other) and belongs to the selection or the evaluation part by a hash of its text
/// (<see cref="HeldoutParts"/>). Each part's documents, in input order, form one token stream, cut into consecutive,
/// non-overlapping sequences of seq_len + 1 tokens (a stream's final partial one is dropped). Of each stream the
/// round(fraction·N) sequences (at least one, at most N−1, when the fraction is above zero) whose seeded hash of their
/// tokens is smallest are held out in that part; the rest of both streams is the train part. So a sequence's side
/// depends on its content and the seed, its part on its documents' text, and no sequence of one held-out part holds
/// text of a document of the other. Text that cannot be divided by document falls back to a division by position
/// (<see cref="HeldoutParts"/>), logged as a warning. The dataset is written into a staging sibling folder and
/// published by one rename (<see cref="AtomicDirectory"/>); on any failure nothing appears at the target.
/// </remarks>
public static class TokenDatasetBuilder
{
    const string AllFile = "all.tokens.tmp", DocumentsFile = "documents.tokens.tmp";
    const int BatchChars = 4 << 20, BatchDocs = 4096;

    public static DataBuildResult Build(Tokenizer tokenizer, DataBuildOptions options, string outputDirectory,
        bool overwrite = false, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        if (options.SeqLen < 1) throw new ArgumentOutOfRangeException(nameof(options), $"seq_len must be at least 1, got {options.SeqLen}");
        if (options.HeldoutFraction is < 0 or >= 1 || double.IsNaN(options.HeldoutFraction))
            throw new ArgumentOutOfRangeException(nameof(options), $"heldout_fraction must be in [0, 1), got {options.HeldoutFraction}");
        if (tokenizer.BosId is not { } bos || tokenizer.EosId is not { } eos)
            throw new InvalidOperationException($"{tokenizer.Path}: the data stage needs a tokenizer with BOS and EOS tokens");
        var clock = Stopwatch.StartNew();
        var baseDir = Path.GetFullPath(options.BaseDirectory ?? Directory.GetCurrentDirectory());
        var files = InputFiles.Resolve(options.Inputs, baseDir);

        var target = Path.GetFullPath(outputDirectory).TrimEnd(Path.DirectorySeparatorChar);
        if (Directory.Exists(target) && !overwrite) throw new IOException($"Output folder already exists: {target}");
        DataBuildResult? result = null;
        string? done = null;
        // built in a staging sibling and published by rename: on any failure nothing appears at the target
        void Fill(string temp)
        {
            var wide = tokenizer.VocabSize > 65536;
            var tokenBytes = wide ? 4 : 2;
            var seqTokens = options.SeqLen + 1;
            var threads = Math.Max(1, options.Threads ?? Environment.ProcessorCount);
            var sources = new List<DatasetManifest.SourceInfo>();
            var tokenizeTime = TimeSpan.Zero;
            long skipped = 0, chars = 0, duplicates = 0;
            // a document that repeats an earlier one's text is left out: the two would share a part's stream, and a
            // held-out passage of one would be trained on in the other (a file copied under another name, a repeated line)
            var firstOf = new Dictionary<UInt128, (int File, int Line)>();
            var repeats = new List<string>();
            string Where(int file, int line) => SourceName(files[file], baseDir) + (line > 0 ? $":{line}" : "");

            var fileDocs = new long[files.Count];
            var fileTokens = new long[files.Count];
            using var documents = new DocumentTokens(Path.Combine(temp, DocumentsFile));
            // Documents are batched across files so that many small files still tokenize in parallel.
            var batch = new List<(int File, int Line, string Text)>();
            var batchChars = 0L;
            void Flush()
            {
                if (batch.Count == 0) return;
                var t = Stopwatch.StartNew();
                var encoded = new int[batch.Count][];
                var hashes = new ulong[batch.Count];
                var texts = new UInt128[batch.Count];
                Parallel.For(0, batch.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                {
                    encoded[i] = tokenizer.Encode(batch[i].Text, addBos: true);
                    hashes[i] = HeldoutParts.DocumentHash(batch[i].Text, options.Seed);
                    texts[i] = TextHash(batch[i].Text);
                });
                tokenizeTime += t.Elapsed;
                for (var i = 0; i < encoded.Length; i++)
                {
                    if (!firstOf.TryAdd(texts[i], (batch[i].File, batch[i].Line)))
                    {
                        if (repeats.Count < 3) repeats.Add($"{Where(batch[i].File, batch[i].Line)} repeats {Where(firstOf[texts[i]].File, firstOf[texts[i]].Line)}");
                        duplicates++;
                        continue;
                    }
                    fileDocs[batch[i].File]++;
                    documents.Add(encoded[i], eos, hashes[i]);
                    fileTokens[batch[i].File] += encoded[i].Length + 1;
                }
                batch.Clear(); batchChars = 0;
            }
            for (var f = 0; f < files.Count; f++)
            {
                foreach (var doc in DocumentReader.Read(files[f], options.JsonlField))
                {
                    if (doc.Text.Length == 0) { skipped++; continue; }
                    batch.Add((f, doc.Line, doc.Text)); batchChars += doc.Text.Length; chars += doc.Text.Length;
                    if (batchChars >= BatchChars || batch.Count >= BatchDocs) Flush();
                }
            }
            Flush();
            documents.Complete();
            if (duplicates > 0)
                log?.Invoke($"warning: {duplicates:N0} document{(duplicates == 1 ? " repeats" : "s repeat")} an earlier one's text and {(duplicates == 1 ? "is" : "are")} left out, " +
                            $"so that no held-out passage is trained on in a copy ({string.Join("; ", repeats)}{(duplicates > repeats.Count ? "; …" : "")})");
            for (var f = 0; f < files.Count; f++)
            {
                sources.Add(new(SourceName(files[f], baseDir), HashFile(files[f]), new FileInfo(files[f]).Length, fileDocs[f], fileTokens[f]));
                log?.Invoke($"{SourceName(files[f], baseDir)}: {fileDocs[f]} documents, {fileTokens[f]} tokens");
            }
            long documentCount = documents.Count, totalTokens = fileTokens.Sum();

            var packed = Pack(documents, Path.Combine(temp, AllFile), seqTokens, tokenBytes, options.Seed);
            var n = packed.Hashes.Count;
            if (n == 0)
                throw new InvalidDataException($"The inputs give {totalTokens} tokens, fewer than one sequence of seq_len + 1 = {seqTokens}: add text (data.train or data.npm) or lower data.seq_len");
            var part = HoldOut(packed, options.HeldoutFraction, seqTokens, log);

            var seqPerShard = Math.Max(1, options.ShardBytes / ((long)seqTokens * tokenBytes));
            var splits = new[] { DataSplit.Train, DataSplit.Selection, DataSplit.Evaluation };
            var data = new Dictionary<DataSplit, DatasetManifest.SplitData>();
            using (var all = File.OpenHandle(Path.Combine(temp, AllFile)))
            {
                var writers = splits.ToDictionary(s => s, s => new ShardWriter(temp, s.ToString().ToLowerInvariant(), seqPerShard));
                try
                {
                    var seen = splits.ToDictionary(s => s, _ => new bool[documents.Count]);
                    var buffer = new byte[seqTokens * tokenBytes];
                    for (var i = 0; i < n; i++)
                    {
                        RandomAccess.Read(all, buffer, (long)i * buffer.Length);
                        writers[part[i]].Write(buffer);
                        for (var d = packed.FirstDocument[i]; d <= packed.LastDocument[i]; d++) seen[part[i]][packed.Order[d]] = true;
                    }
                    foreach (var s in splits) data[s] = writers[s].Finish(seen[s].Count(x => x));
                }
                finally { foreach (var w in writers.Values) w.Dispose(); }
            }
            File.Delete(Path.Combine(temp, AllFile));

            var manifest = new DatasetManifest
            {
                Tokenizer = new(SourceName(tokenizer.Path, baseDir), tokenizer.Sha256, tokenizer.VocabSize, bos, eos, tokenizer.Library),
                SeqLen = options.SeqLen,
                Dtype = wide ? "int32" : "uint16",
                Split = new(options.Seed, options.HeldoutFraction, "content-hash", packed.ByDocument ? HeldoutParts.ByDocument : HeldoutParts.Position),
                Sources = sources,
                Counts = new(documentCount, skipped, totalTokens, n, totalTokens - (long)n * seqTokens, duplicates),
                Train = data[DataSplit.Train],
                Selection = data[DataSplit.Selection],
                Evaluation = data[DataSplit.Evaluation],
            };
            documents.Dispose();
            File.Delete(Path.Combine(temp, DocumentsFile));
            File.WriteAllText(Path.Combine(temp, DatasetManifest.FileName), manifest.ToJson());
            done = $"{target}: {n} sequences of {seqTokens} tokens ({manifest.Train.Sequences} train; held out: " +
                   $"{manifest.Selection.Sequences} selection from {manifest.Selection.Documents} documents, " +
                   $"{manifest.Evaluation.Sequences} evaluation from {manifest.Evaluation.Documents}), " +
                   $"{totalTokens} tokens from {documentCount} documents";
            result = new DataBuildResult(target, manifest, clock.Elapsed, tokenizeTime, chars);
        }
        if (overwrite) AtomicDirectory.Publish(target, Fill);
        else AtomicDirectory.Create(target, Fill);
        log?.Invoke($"{done} in {clock.Elapsed.TotalSeconds:F1} s");
        return result!;
    }

    /// <summary>The packed sequences: their hashes and documents (positions in <see cref="Order"/>, the documents'
    /// indices in packing order), and where the evaluation part's stream starts (<see cref="Boundary"/>, the sequence
    /// count when the text is one stream).</summary>
    sealed record Packing(bool ByDocument, int[] Order, int Boundary, List<ulong> Hashes, List<int> FirstDocument, List<int> LastDocument);

    /// <summary>Packs the documents as two streams, selection's then evaluation's, or, where that cannot give both a
    /// sequence, as one stream in input order.</summary>
    static Packing Pack(DocumentTokens documents, string path, int seqTokens, int tokenBytes, ulong seed)
    {
        var parts = HeldoutParts.Assign(documents.Hashes);
        long StreamTokens(DataSplit p) => Enumerable.Range(0, documents.Count).Where(i => parts[i] == p).Sum(i => (long)documents.Length(i));
        var byDocument = documents.Count >= 2 && StreamTokens(DataSplit.Selection) >= seqTokens && StreamTokens(DataSplit.Evaluation) >= seqTokens;
        var order = byDocument
            ? Enumerable.Range(0, documents.Count).OrderBy(i => parts[i] == DataSplit.Selection ? 0 : 1).ThenBy(i => i).ToArray()
            : Enumerable.Range(0, documents.Count).ToArray();
        var streamStart = byDocument ? parts.Count(p => p == DataSplit.Selection) : order.Length;
        using var packer = new Packer(path, seqTokens, tokenBytes, seed);
        var boundary = -1;
        for (var o = 0; o < order.Length; o++)
        {
            if (o == streamStart) { packer.EndStream(); boundary = packer.Hashes.Count; }
            packer.BeginDocument(o);
            documents.Read(order[o], packer.Add);
        }
        packer.EndStream();
        return new Packing(byDocument, order, boundary < 0 ? packer.Hashes.Count : boundary, packer.Hashes, packer.FirstDocument, packer.LastDocument);
    }

    /// <summary>Each sequence's part: by stream when the text was packed by document, else the earlier half of the
    /// held-out sequences selects and the later half evaluates.</summary>
    static DataSplit[] HoldOut(Packing packed, double fraction, int seqTokens, Action<string>? log)
    {
        var n = packed.Hashes.Count;
        var heldout = new bool[n];
        var part = new DataSplit[n];
        if (fraction > 0)
        {
            if (packed.ByDocument)
            {
                HeldoutParts.HoldOut(packed.Hashes, 0, packed.Boundary, HeldoutParts.HeldoutCount(fraction, packed.Boundary), heldout);
                HeldoutParts.HoldOut(packed.Hashes, packed.Boundary, n - packed.Boundary, HeldoutParts.HeldoutCount(fraction, n - packed.Boundary), heldout);
            }
            else
            {
                log?.Invoke(packed.Order.Length < 2
                    ? "warning: the inputs hold one document, so its held-out sequences are divided between selection and evaluation by position " +
                      "(the earlier half selects, the later half evaluates), not by document; add documents (data.train or data.npm) to keep the evaluation text apart from the text that chooses the child"
                    : $"warning: the documents of one held-out part give fewer than seq_len + 1 = {seqTokens} tokens, so the held-out sequences are divided between " +
                      "selection and evaluation by position, not by document; add documents (data.train or data.npm) to keep the evaluation text apart from the text that chooses the child");
                if (n < 3) throw new InvalidDataException($"The inputs give only {n} sequence{(n == 1 ? "" : "s")} of {seqTokens} tokens; training, a selection part and an evaluation part need at least three: add text (data.train or data.npm) or lower data.seq_len");
                HeldoutParts.HoldOut(packed.Hashes, 0, n, HeldoutParts.HeldoutCount(fraction, n, minimum: 2), heldout);
            }
            if (heldout.All(h => h))
                throw new InvalidDataException($"The inputs give only {n} sequences of {seqTokens} tokens and every one is held out, which leaves nothing to train on; add text");
        }
        var selecting = (heldout.Count(h => h) + 1) / 2;
        for (var i = 0; i < n; i++)
        {
            if (!heldout[i]) part[i] = DataSplit.Train;
            else if (packed.ByDocument) part[i] = i < packed.Boundary ? DataSplit.Selection : DataSplit.Evaluation;
            else part[i] = selecting-- > 0 ? DataSplit.Selection : DataSplit.Evaluation;
        }
        return part;
    }

    /// <summary>128 bits of the SHA-256 of a document's text: equal only for equal texts, in practice.</summary>
    static UInt128 TextHash(string text)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(text.AsSpan()), hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    static string SourceName(string file, string baseDir)
    {
        var rel = Path.GetRelativePath(baseDir, file);
        return (rel.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(rel) ? file : rel).Replace('\\', '/');
    }

    static string HashFile(string path)
    {
        using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    /// <summary>Seeded 64-bit hash of a sequence's tokens (FNV-1a over the ids, then a SplitMix64 finaliser).</summary>
    internal static ulong SequenceHash(ReadOnlySpan<int> tokens, ulong seed)
    {
        var h = 0xcbf29ce484222325UL ^ Mix(seed);
        foreach (var t in tokens) { h ^= (uint)t; h *= 0x100000001b3UL; }
        return Mix(h);
    }

    internal static ulong Mix(ulong z)
    {
        z += 0x9e3779b97f4a7c15UL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }
}
