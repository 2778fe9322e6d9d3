using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Puzzle.Engine.Checkpoints;
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
/// Tokenizes text once and stores it as packed token shards with a train/held-out split, for every later stage to
/// read through <see cref="TokenDataset"/> without tokenizing again.
/// </summary>
/// <remarks>
/// The token stream is, per document in input order, BOS + tokens + EOS. It is cut into consecutive, non-overlapping
/// sequences of seq_len + 1 tokens (the final partial one is dropped). Held out are the round(fraction·N) sequences
/// (at least one, at most N−1, when the fraction is above zero) whose seeded hash of their tokens is smallest, so a
/// sequence's side depends on its content and the seed only. The dataset is written into a temporary sibling folder
/// and published by one rename; on any failure that folder is removed and nothing appears at the target.
/// </remarks>
public static class TokenDatasetBuilder
{
    const string AllFile = "all.tokens.tmp";
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
        void Fill(string temp)
        {
            var wide = tokenizer.VocabSize > 65536;
            var tokenBytes = wide ? 4 : 2;
            var seqTokens = options.SeqLen + 1;
            var threads = Math.Max(1, options.Threads ?? Environment.ProcessorCount);
            var sources = new List<DatasetManifest.SourceInfo>();
            var tokenizeTime = TimeSpan.Zero;
            long documents = 0, skipped = 0, totalTokens = 0, chars = 0;
            var hashes = new List<ulong>();

            var fileDocs = new long[files.Count];
            var fileTokens = new long[files.Count];
            using (var packer = new Packer(Path.Combine(temp, AllFile), seqTokens, tokenBytes, options.Seed, hashes))
            {
                // Documents are batched across files so that many small files still tokenize in parallel.
                var batch = new List<(int File, string Text)>();
                var batchChars = 0L;
                void Flush()
                {
                    if (batch.Count == 0) return;
                    var t = Stopwatch.StartNew();
                    var encoded = new int[batch.Count][];
                    Parallel.For(0, batch.Count, new ParallelOptions { MaxDegreeOfParallelism = threads },
                        i => encoded[i] = tokenizer.Encode(batch[i].Text, addBos: true));
                    tokenizeTime += t.Elapsed;
                    for (var i = 0; i < encoded.Length; i++)
                    {
                        packer.Add(encoded[i]);
                        packer.Add(eos);
                        fileTokens[batch[i].File] += encoded[i].Length + 1;
                    }
                    batch.Clear(); batchChars = 0;
                }
                for (var f = 0; f < files.Count; f++)
                {
                    foreach (var doc in DocumentReader.Read(files[f], options.JsonlField))
                    {
                        if (doc.Text.Length == 0) { skipped++; continue; }
                        batch.Add((f, doc.Text)); batchChars += doc.Text.Length; chars += doc.Text.Length;
                        fileDocs[f]++;
                        if (batchChars >= BatchChars || batch.Count >= BatchDocs) Flush();
                    }
                }
                Flush();
            }
            for (var f = 0; f < files.Count; f++)
            {
                sources.Add(new(SourceName(files[f], baseDir), HashFile(files[f]), new FileInfo(files[f]).Length, fileDocs[f], fileTokens[f]));
                log?.Invoke($"{SourceName(files[f], baseDir)}: {fileDocs[f]} documents, {fileTokens[f]} tokens");
            }
            documents = fileDocs.Sum(); totalTokens = fileTokens.Sum();

            var n = hashes.Count;
            if (n == 0)
                throw new InvalidDataException($"The inputs give {totalTokens} tokens, fewer than one sequence of seq_len + 1 = {seqTokens}");
            var heldoutCount = 0;
            if (options.HeldoutFraction > 0)
            {
                if (n < 2) throw new InvalidDataException($"The inputs give only one sequence of {seqTokens} tokens; a held-out split needs at least two");
                heldoutCount = (int)Math.Clamp(Math.Round(options.HeldoutFraction * n, MidpointRounding.AwayFromZero), 1, n - 1);
            }
            var heldout = new bool[n];
            foreach (var i in Enumerable.Range(0, n).OrderBy(i => hashes[i]).ThenBy(i => i).Take(heldoutCount)) heldout[i] = true;

            var seqPerShard = Math.Max(1, options.ShardBytes / ((long)seqTokens * tokenBytes));
            DatasetManifest.SplitData train, held;
            using (var all = File.OpenHandle(Path.Combine(temp, AllFile)))
            using (var trainWriter = new ShardWriter(temp, "train", seqPerShard))
            using (var heldWriter = new ShardWriter(temp, "heldout", seqPerShard))
            {
                var buffer = new byte[seqTokens * tokenBytes];
                for (var i = 0; i < n; i++)
                {
                    RandomAccess.Read(all, buffer, (long)i * buffer.Length);
                    (heldout[i] ? heldWriter : trainWriter).Write(buffer);
                }
                train = trainWriter.Finish();
                held = heldWriter.Finish();
            }
            File.Delete(Path.Combine(temp, AllFile));

            var manifest = new DatasetManifest
            {
                Tokenizer = new(SourceName(tokenizer.Path, baseDir), tokenizer.Sha256, tokenizer.VocabSize, bos, eos, tokenizer.Library),
                SeqLen = options.SeqLen,
                Dtype = wide ? "int32" : "uint16",
                Split = new(options.Seed, options.HeldoutFraction, "content-hash"),
                Sources = sources,
                Counts = new(documents, skipped, totalTokens, n, totalTokens - (long)n * seqTokens),
                Train = train,
                Heldout = held,
            };
            File.WriteAllText(Path.Combine(temp, DatasetManifest.FileName), manifest.ToJson());
            done = $"{target}: {n} sequences of {seqTokens} tokens ({train.Sequences} train, {held.Sequences} held out), {totalTokens} tokens from {documents} documents";
            result = new DataBuildResult(target, manifest, clock.Elapsed, tokenizeTime, chars);
        }
        // built in a staging sibling and published by rename: on any failure nothing appears at the target
        if (overwrite) AtomicDirectory.Publish(target, Fill);
        else AtomicDirectory.Create(target, Fill);
        log?.Invoke($"{done} in {clock.Elapsed.TotalSeconds:F1} s");
        return result!;
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

    /// <summary>Cuts the token stream into sequences, appends each to one file and records its hash.</summary>
    sealed class Packer(string path, int seqTokens, int tokenBytes, ulong seed, List<ulong> hashes) : IDisposable
    {
        readonly FileStream _out = new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        readonly int[] _seq = new int[seqTokens];
        readonly byte[] _bytes = new byte[seqTokens * tokenBytes];
        int _fill;

        public void Add(int token)
        {
            _seq[_fill++] = token;
            if (_fill == _seq.Length) Emit();
        }

        public void Add(int[] tokens) { foreach (var t in tokens) Add(t); }

        void Emit()
        {
            for (var i = 0; i < _seq.Length; i++)
            {
                if (tokenBytes == 2) BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(i * 2), checked((ushort)_seq[i]));
                else BinaryPrimitives.WriteInt32LittleEndian(_bytes.AsSpan(i * 4), _seq[i]);
            }
            _out.Write(_bytes);
            hashes.Add(SequenceHash(_seq, seed));
            _fill = 0;
        }

        public void Dispose() => _out.Dispose();
    }

    /// <summary>Writes <c>{prefix}-00000.tokens</c>, ... with at most <paramref name="perShard"/> sequences each.</summary>
    sealed class ShardWriter(string dir, string prefix, long perShard) : IDisposable
    {
        readonly List<DatasetManifest.ShardInfo> _done = [];
        FileStream? _out;
        IncrementalHash? _hash;
        string _name = "";
        long _inShard, _total;

        public void Write(byte[] sequence)
        {
            if (_out is null || _inShard == perShard)
            {
                Close();
                _name = $"{prefix}-{_done.Count:D5}.tokens";
                _out = new FileStream(Path.Combine(dir, _name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                _inShard = 0;
            }
            _out.Write(sequence);
            _hash!.AppendData(sequence);
            _inShard++; _total++;
        }

        void Close()
        {
            if (_out is null) return;
            _out.Dispose();
            _done.Add(new(_name, _inShard, Convert.ToHexStringLower(_hash!.GetHashAndReset())));
            _hash.Dispose();
            _out = null; _hash = null;
        }

        public DatasetManifest.SplitData Finish() { Close(); return new(_total, _done.ToArray()); }

        public void Dispose() { _out?.Dispose(); _hash?.Dispose(); }
    }
}
