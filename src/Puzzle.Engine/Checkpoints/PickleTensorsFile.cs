using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// One PyTorch <c>.bin</c> (<c>pytorch_model.bin</c> or a shard of it, as transformers wrote weights before
/// safetensors), opened lazily: torch.save's zip archive stores <c>data.pkl</c>, a pickled dict of tensor name →
/// storage, offset, shape and stride (<see cref="TorchPickle"/>), and each storage's bytes uncompressed as a record
/// <c>data/{key}</c>. Opening reads the zip directory and data.pkl only; <see cref="Read"/> reads one tensor's bytes
/// from its storage's record, in place, and nothing else, so a job that needs one layer of a 70B parent reads one layer.
/// A tensor may be a view of a storage other tensors share (tied embeddings, fused projections): it is read from its
/// offset and, when its stride is not the contiguous one, made contiguous. Reads are positional, so several threads
/// may read at once.
/// </summary>
public sealed class PickleTensorsFile : ITensorFile
{
    /// <summary>data.pkl above this is refused: a 70B model's is about 100 KB, and a corrupt length must not allocate gigabytes.</summary>
    const long MaxPickleBytes = 100_000_000;

    /// <summary>Where a tensor's elements lie: <see cref="Offset"/> is the file offset of its first element; a view that
    /// is not contiguous spans <see cref="Extent"/> elements from there, taken with <see cref="Stride"/>.</summary>
    sealed record Entry(TensorInfo Info, long Offset, long[] Stride, long Extent, bool Contiguous);

    readonly SafeFileHandle _handle;
    readonly Dictionary<string, Entry> _entries;
    readonly StagingBuffer _staging = new();
    long _dataBytesRead;

    PickleTensorsFile(string path, SafeFileHandle handle, Dictionary<string, Entry> entries)
    {
        Path = path;
        _handle = handle;
        _entries = entries;
        Names = entries.Keys.ToArray();
    }

    public string Path { get; }

    /// <summary>The tensors in storage order, which is the order torch.save met them in.</summary>
    public IReadOnlyCollection<string> Names { get; }

    public long DataBytesRead => Interlocked.Read(ref _dataBytesRead);

    /// <summary>Opens <paramref name="path"/> and checks every tensor against its storage; throws
    /// <see cref="CheckpointException"/> naming the file when anything is wrong.</summary>
    public static PickleTensorsFile Open(string path) =>
        TensorBytes.Open(path, handle => new PickleTensorsFile(path, handle, ReadEntries(handle, path)));

    static Dictionary<string, Entry> ReadEntries(SafeFileHandle handle, string path)
    {
        CheckStart(handle, path);
        var zip = ZipRecords.Read(handle, path);
        // torch.save puts every record under one folder (the file's name, or "archive" in newer torch)
        var pickles = zip.Names.Where(n => n.Split('/') is [{ Length: > 0 }, "data.pkl"]).ToList();
        if (pickles.Count != 1)
            throw Error(path, pickles.Count == 0
                ? "the zip archive has no <folder>/data.pkl; it was not written by torch.save"
                : $"the zip archive has {pickles.Count} data.pkl records ({string.Join(", ", pickles)}); it was not written by torch.save");
        var folder = pickles[0][..^"/data.pkl".Length];
        if (zip.Names.Contains($"{folder}/byteorder") && System.Text.Encoding.ASCII.GetString(zip.ReadAll($"{folder}/byteorder", 16)) is var order && order != "little")
            throw Error(path, $"its tensors are stored {order}-endian; only little-endian checkpoints are read");
        var records = new Dictionary<string, (long Offset, long Length)>(StringComparer.Ordinal);
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var (name, tensor) in TorchPickle.Parse(zip.ReadAll(pickles[0], MaxPickleBytes), path))
        {
            var storage = tensor.Storage;
            var where = $"tensor '{name}'";
            if (storage.DType is not { } dtype)
                throw Error(path, $"unsupported dtype {storage.TorchDType} ({storage.TypeName}) for {where} (supported: float32, float16, bfloat16)");
            var record = $"{folder}/data/{storage.Key}";
            if (!records.TryGetValue(record, out var at))
            {
                if (!zip.Names.Contains(record))
                    throw Error(path, $"{where} is in storage '{storage.Key}', whose record {record} is not in the zip archive; the file is damaged");
                records[record] = at = zip.Locate(record);
                if (at.Length != checked(storage.ElementCount * dtype.ByteSize()))
                    throw Error(path, $"record {record} is {at.Length} bytes, but data.pkl describes it as {storage.ElementCount} {storage.TorchDType} elements; the file is damaged");
            }
            entries.Add(name, Describe(tensor, dtype, at.Offset, where, path));
        }
        return entries;
    }

    /// <summary>A tensor's place in its storage, checked to lie within it.</summary>
    static Entry Describe(TorchTensor tensor, TensorDType dtype, long recordOffset, string where, string path)
    {
        var (shape, stride) = (tensor.Shape, tensor.Stride);
        long extent, contiguousStride = 1;
        var contiguous = true;
        try
        {
            // the elements a view spans: from its first to its last, 1 + Σ (size − 1) · stride
            extent = shape.Contains(0) ? 0 : checked(1 + shape.Zip(stride).Sum(d => checked((d.First - 1) * d.Second)));
            for (var i = shape.Length - 1; i >= 0; i--)
            {
                if (shape[i] != 1 && stride[i] != contiguousStride) contiguous = false;
                contiguousStride = checked(contiguousStride * shape[i]);
            }
            if (checked(tensor.Offset + extent) > tensor.Storage.ElementCount)
                throw Error(path, $"{where}: shape {TensorInfo.FormatShape(shape)} with stride {TensorInfo.FormatShape(stride)} from element {tensor.Offset} " +
                                  $"runs past its storage '{tensor.Storage.Key}' of {tensor.Storage.ElementCount} elements; the file is damaged");
        }
        catch (OverflowException) { throw Error(path, $"{where}: shape {TensorInfo.FormatShape(shape)} is too large"); }
        return new Entry(new TensorInfo(dtype, shape), recordOffset + tensor.Offset * dtype.ByteSize(), stride, extent, contiguous || extent == 0);
    }

    /// <summary>Names what the file is when it is not a zip archive: a Git LFS pointer, or torch.save's legacy format.</summary>
    static void CheckStart(SafeFileHandle handle, string path)
    {
        var start = new byte[Math.Min(RandomAccess.GetLength(handle), GitLfsPointer.StartBytes)];
        SafeTensorsHeader.ReadExactly(handle, start, 0, path);
        if (start.AsSpan().StartsWith("PK\x03\x04"u8)) return;
        if (GitLfsPointer.Explain(path, start) is { } pointer) throw new CheckpointException(pointer);
        // the legacy format opens with the pickled magic number 0x1950a86a20f9469cfc6c (protocol 2: PROTO 2, LONG1 10 bytes)
        if (start.AsSpan().StartsWith(LegacyMagic))
            throw Error(path, "it is in PyTorch's legacy format (torch.save before PyTorch 1.6, or with _use_new_zipfile_serialization=False), which is not read: " +
                              "load the model with transformers and save_pretrained it again, which writes safetensors");
        throw Error(path, start.Length < 4
            ? $"the file is {start.Length} bytes; it is truncated, or not a PyTorch checkpoint"
            : "it is not a zip archive, as torch.save writes since PyTorch 1.6; it is not a PyTorch checkpoint, or it is damaged");
    }

    public bool Contains(string name) => _entries.ContainsKey(name);

    public TensorInfo Info(string name) => Find(name).Info;

    /// <summary>Reads one tensor as a float32 CPU tensor; f16 and bf16 widen exactly.</summary>
    public torch.Tensor Read(string name) => TensorBytes.Float32(ReadStored(name));

    /// <summary>Reads one tensor as a contiguous CPU tensor in the dtype it is stored in: a contiguous one straight from
    /// the file into its memory, a strided view through the span of its storage it covers.</summary>
    public torch.Tensor ReadStored(string name)
    {
        var entry = Find(name);
        var info = entry.Info;
        var dtype = info.DType.ScalarType();
        if (entry.Contiguous)
        {
            var result = torch.empty(info.Shape.ToArray(), dtype);
            try { TensorBytes.Read(_handle, result, entry.Offset, Path); }
            catch
            {
                result.Dispose();
                throw;
            }
            Interlocked.Add(ref _dataBytesRead, info.ByteCount);
            return result;
        }
        using var span = torch.empty(entry.Extent, dtype);
        TensorBytes.Read(_handle, span, entry.Offset, Path);
        Interlocked.Add(ref _dataBytesRead, entry.Extent * info.DType.ByteSize());
        using var view = span.as_strided(info.Shape.ToArray(), entry.Stride);
        return view.contiguous();
    }

    /// <summary>
    /// Copies one tensor into <paramref name="target"/> (a model's parameter, any device and dtype; converted by
    /// libtorch): straight from disk into its memory when both are contiguous and it is a CPU tensor of the stored
    /// dtype, otherwise through the file's <see cref="StagingBuffer"/>. Throws <see cref="CheckpointException"/> when the shapes differ.
    /// </summary>
    public void ReadInto(string name, torch.Tensor target)
    {
        var entry = Find(name);
        var info = entry.Info;
        TensorInfo.RequireShape(Path, name, info.Shape, target);
        var dtype = info.DType.ScalarType();
        using var _ = torch.no_grad();
        if (entry.Contiguous && target.device_type == DeviceType.CPU && target.dtype == dtype && target.is_contiguous())
            TensorBytes.Read(_handle, target, entry.Offset, Path);
        else
            _staging.Use(dtype, Span(entry), () => _entries.Values.Where(e => e.Info.DType == info.DType).Max(Span), window =>
            {
                TensorBytes.Read(_handle, window, entry.Offset, Path);
                using var staged = entry.Contiguous ? window.view(info.Shape.ToArray()) : window.as_strided(info.Shape.ToArray(), entry.Stride);
                target.copy_(staged);
            });
        Interlocked.Add(ref _dataBytesRead, Span(entry) * info.DType.ByteSize());
    }

    /// <summary>The elements read for a tensor: its own, or the span of storage a strided view covers.</summary>
    static long Span(Entry entry) => entry.Contiguous ? entry.Info.ElementCount : entry.Extent;

    Entry Find(string name) =>
        _entries.TryGetValue(name, out var entry)
            ? entry
            : throw new CheckpointException($"{Path}: tensor '{name}' is not in this file");

    static CheckpointException Error(string path, string message) => SafeTensorsHeader.Error(path, message);

    static ReadOnlySpan<byte> LegacyMagic => [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    public void Dispose()
    {
        _staging.Dispose();
        _handle.Dispose();
    }
}
