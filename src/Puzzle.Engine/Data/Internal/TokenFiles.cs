using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Puzzle.Engine.Data.Internal;

/// <summary>
/// Every document's tokens (BOS + text + EOS) in one temporary file, in input order, with the hash of its text: the
/// builder decides each document's part only once all are read (<see cref="HeldoutParts.Assign"/> looks at all of
/// them), and packs each part from here. Host byte order: the file never leaves this process.
/// </summary>
sealed class DocumentTokens(string path) : IDisposable
{
    const int ChunkTokens = 1 << 18;
    readonly List<long> _starts = [];
    readonly List<int> _lengths = [];
    FileStream? _out = new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
    SafeFileHandle? _in;
    long _end;

    public List<ulong> Hashes { get; } = [];
    public int Count => _lengths.Count;
    public int Length(int document) => _lengths[document];

    public void Add(int[] tokens, int eos, ulong hash)
    {
        var writer = _out ?? throw new InvalidOperationException("documents are complete");
        writer.Write(MemoryMarshal.AsBytes(tokens.AsSpan()));
        writer.Write(MemoryMarshal.AsBytes(new ReadOnlySpan<int>(in eos)));
        _starts.Add(_end);
        _lengths.Add(tokens.Length + 1);
        _end += tokens.Length + 1;
        Hashes.Add(hash);
    }

    /// <summary>Ends writing; <see cref="Read"/> works from here on.</summary>
    public void Complete()
    {
        _out?.Dispose();
        _out = null;
        _in = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
    }

    /// <summary>Hands <paramref name="document"/>'s tokens to <paramref name="consume"/>, a chunk at a time (a whole
    /// book can be one document).</summary>
    public void Read(int document, Action<ReadOnlySpan<int>> consume)
    {
        var handle = _in ?? throw new InvalidOperationException("documents are still being written");
        var buffer = new int[Math.Min(ChunkTokens, Math.Max(1, _lengths[document]))];
        for (long done = 0; done < _lengths[document];)
        {
            var n = (int)Math.Min(buffer.Length, _lengths[document] - done);
            var bytes = MemoryMarshal.AsBytes(buffer.AsSpan(0, n));
            var read = RandomAccess.Read(handle, bytes, (_starts[document] + done) * sizeof(int));
            if (read != bytes.Length) throw new IOException($"{path}: short read of document {document}");
            consume(buffer.AsSpan(0, n));
            done += n;
        }
    }

    public void Dispose()
    {
        _out?.Dispose();
        _in?.Dispose();
    }
}

/// <summary>
/// Cuts token streams into sequences of seq_len + 1 tokens, appends each to one file and records its hash and the
/// documents it holds (as positions in the order the documents were added). A stream's partial last sequence is
/// dropped at <see cref="EndStream"/>, so no sequence holds tokens of two streams.
/// </summary>
sealed class Packer(string path, int seqTokens, int tokenBytes, ulong seed) : IDisposable
{
    readonly FileStream _out = new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
    readonly int[] _seq = new int[seqTokens];
    readonly byte[] _bytes = new byte[seqTokens * tokenBytes];
    int _fill, _document, _first;

    public List<ulong> Hashes { get; } = [];
    /// <summary>Position of the first and of the last document each sequence holds tokens of.</summary>
    public List<int> FirstDocument { get; } = [];
    public List<int> LastDocument { get; } = [];
    public long DroppedTokens { get; private set; }

    /// <summary>The tokens <see cref="Add"/> gets next belong to the document at <paramref name="position"/>.</summary>
    public void BeginDocument(int position) => _document = position;

    public void Add(ReadOnlySpan<int> tokens)
    {
        foreach (var t in tokens)
        {
            if (_fill == 0) _first = _document;
            _seq[_fill++] = t;
            if (_fill == _seq.Length) Emit();
        }
    }

    public void EndStream()
    {
        DroppedTokens += _fill;
        _fill = 0;
    }

    void Emit()
    {
        for (var i = 0; i < _seq.Length; i++)
        {
            if (tokenBytes == 2) BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(i * 2), checked((ushort)_seq[i]));
            else BinaryPrimitives.WriteInt32LittleEndian(_bytes.AsSpan(i * 4), _seq[i]);
        }
        _out.Write(_bytes);
        Hashes.Add(TokenDatasetBuilder.SequenceHash(_seq, seed));
        FirstDocument.Add(_first);
        LastDocument.Add(_document);
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

    /// <param name="documents">documents with at least one token in the written sequences</param>
    public DatasetManifest.SplitData Finish(long documents) { Close(); return new(_total, documents, _done.ToArray()); }

    public void Dispose() { _out?.Dispose(); _hash?.Dispose(); }
}
