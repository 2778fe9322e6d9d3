using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using Puzzle.Engine.Runtime;
using TorchSharp;

namespace Puzzle.Engine.Data;

/// <summary>
/// One split of a token dataset written by <see cref="TokenDatasetBuilder"/>: fixed-length sequences of
/// seq_len + 1 token ids, read from the shard files on demand (positional reads, nothing loaded up front).
/// Reads are thread-safe.
/// </summary>
public sealed class TokenDataset : IDisposable
{
    readonly SafeFileHandle[] _shards;
    readonly long[] _starts; // first sequence index of each shard, plus the total at the end
    readonly int _tokenBytes;

    public string Directory { get; }
    public DatasetManifest Manifest { get; }
    public DataSplit Split { get; }
    /// <summary>Number of sequences in this split.</summary>
    public long Count { get; }
    public int SeqLen => Manifest.SeqLen;
    /// <summary>Tokens per sequence: <see cref="SeqLen"/> + 1 (input and shifted target share them).</summary>
    public int SequenceTokens => Manifest.SeqLen + 1;

    TokenDataset(string directory, DatasetManifest manifest, DataSplit split)
    {
        Directory = directory; Manifest = manifest; Split = split;
        _tokenBytes = manifest.TokenBytes;
        var part = manifest.Part(split);
        var shards = part.Shards;
        _shards = new SafeFileHandle[shards.Count];
        _starts = new long[shards.Count + 1];
        try
        {
            for (var i = 0; i < shards.Count; i++)
            {
                var shard = shards[i];
                var path = Path.Combine(directory, shard.File);
                if (!File.Exists(path)) throw new FileNotFoundException($"Token dataset shard missing: {path}", path);
                var expected = shard.Sequences * SequenceTokens * _tokenBytes;
                var length = new FileInfo(path).Length;
                if (length != expected) throw new InvalidDataException($"{path}: {length} bytes, the manifest says {shard.Sequences} sequences = {expected} bytes");
                _shards[i] = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
                _starts[i + 1] = _starts[i] + shard.Sequences;
            }
        }
        catch { Dispose(); throw; }
        Count = _starts[^1];
        if (Count != part.Sequences) throw new InvalidDataException($"{directory}: {split} shards hold {Count} sequences, the manifest says {part.Sequences}");
    }

    /// <summary>Opens one split of the dataset in <paramref name="directory"/> (checks the manifest and shard sizes).</summary>
    public static TokenDataset Open(string directory, DataSplit split = DataSplit.Train)
    {
        var full = Path.GetFullPath(directory);
        return new TokenDataset(full, DatasetManifest.Read(full), split);
    }

    /// <summary>Throws unless the dataset was tokenized with exactly this tokenizer file (same SHA-256).</summary>
    public void RequireTokenizer(Tokenization.Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.Sha256 != Manifest.Tokenizer.Sha256)
            throw new InvalidOperationException($"{Directory} was tokenized with {Manifest.Tokenizer.Path} (sha256 {Manifest.Tokenizer.Sha256[..12]}…), " +
                $"not with {tokenizer.Path} (sha256 {tokenizer.Sha256[..12]}…); rebuild the dataset with this tokenizer");
    }

    /// <summary>Copies sequence <paramref name="index"/> into <paramref name="destination"/> (length ≥ SequenceTokens).</summary>
    public void ReadSequence(long index, Span<int> destination)
    {
        if ((ulong)index >= (ulong)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"{Split} has {Count} sequences");
        if (destination.Length < SequenceTokens) throw new ArgumentException($"destination holds {destination.Length} tokens, a sequence has {SequenceTokens}");
        var shard = Array.BinarySearch(_starts, index);
        if (shard < 0) shard = ~shard - 1;
        while (shard + 1 < _starts.Length - 1 && _starts[shard + 1] == index) shard++; // skip empty shards
        var bytes = SequenceTokens * _tokenBytes;
        Span<byte> buffer = bytes <= 16384 ? stackalloc byte[bytes] : new byte[bytes];
        var offset = (index - _starts[shard]) * bytes;
        var read = RandomAccess.Read(_shards[shard], buffer, offset);
        if (read != bytes) throw new IOException($"{Directory}: short read of sequence {index} ({read} of {bytes} bytes)");
        if (_tokenBytes == 2)
            for (var i = 0; i < SequenceTokens; i++) destination[i] = BinaryPrimitives.ReadUInt16LittleEndian(buffer[(i * 2)..]);
        else
            for (var i = 0; i < SequenceTokens; i++) destination[i] = BinaryPrimitives.ReadInt32LittleEndian(buffer[(i * 4)..]);
    }

    public int[] ReadSequence(long index)
    {
        var ids = new int[SequenceTokens];
        ReadSequence(index, ids);
        return ids;
    }

    /// <summary>The sequences at <paramref name="indices"/> as an int64 tensor [B, seq_len + 1] on the CPU
    /// (inputs: <c>[:, :-1]</c>, targets: <c>[:, 1:]</c>).</summary>
    public torch.Tensor GetBatch(IReadOnlyList<long> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        TorchRuntime.EnsureLoaded();
        var t = SequenceTokens;
        var data = new long[indices.Count * t];
        var row = new int[t];
        for (var b = 0; b < indices.Count; b++)
        {
            ReadSequence(indices[b], row);
            for (var i = 0; i < t; i++) data[b * t + i] = row[i];
        }
        return torch.tensor(data, [indices.Count, t], torch.int64);
    }

    /// <summary>A permutation of 0..Count−1 that depends only on <paramref name="seed"/> and <paramref name="epoch"/>.</summary>
    public long[] EpochOrder(ulong seed, int epoch) => Shuffle(Count, seed, epoch);

    /// <summary>The first <paramref name="count"/> sequences (all, when fewer) in order, as index batches: a fixed evaluation set.</summary>
    public IEnumerable<long[]> Leading(long count, int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        count = Math.Min(count, Count);
        for (long i = 0; i < count; i += batchSize)
        {
            var n = (int)Math.Min(batchSize, count - i);
            var batch = new long[n];
            for (var j = 0; j < n; j++) batch[j] = i + j;
            yield return batch;
        }
    }

    /// <summary>Index batches of one epoch in shuffled order; with <paramref name="dropLast"/> a final short batch is left out.</summary>
    public IEnumerable<long[]> Batches(int batchSize, ulong seed, int epoch, bool dropLast = true)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        var order = EpochOrder(seed, epoch);
        for (long i = 0; i < order.Length; i += batchSize)
        {
            var n = (int)Math.Min(batchSize, order.Length - i);
            if (n < batchSize && dropLast) yield break;
            yield return order.AsSpan((int)i, n).ToArray();
        }
    }

    /// <summary>Endless shuffled index batches, epoch after epoch (each epoch reshuffled), for step-based training.</summary>
    public IEnumerable<long[]> InfiniteBatches(int batchSize, ulong seed)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        if (Count < batchSize) throw new InvalidOperationException($"{Split} has {Count} sequences, fewer than one batch of {batchSize}");
        for (var epoch = 0; ; epoch++)
            foreach (var b in Batches(batchSize, seed, epoch)) yield return b;
    }

    /// <summary>Fisher–Yates with SplitMix64 seeded by (seed, epoch): the same on every platform and .NET version.</summary>
    public static long[] Shuffle(long count, ulong seed, int epoch)
    {
        if (count > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(count));
        var order = new long[count];
        for (long i = 0; i < count; i++) order[i] = i;
        var state = TokenDatasetBuilder.Mix(seed ^ TokenDatasetBuilder.Mix((ulong)epoch + 0x632be59bd9b4e019UL));
        for (var i = count - 1; i > 0; i--)
        {
            state += 0x9e3779b97f4a7c15UL;
            var r = TokenDatasetBuilder.Mix(state);
            var j = (long)(r % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    public void Dispose()
    {
        foreach (var h in _shards) h?.Dispose();
    }
}
