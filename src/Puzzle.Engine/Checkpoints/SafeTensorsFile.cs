using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// One <c>.safetensors</c> file, opened lazily: opening reads and checks only the header; <see cref="Read"/> reads
/// one tensor's bytes from disk and nothing else. Reads are positional, so several threads may read at once.
/// </summary>
public sealed class SafeTensorsFile : ITensorSource, IDisposable
{
    /// <summary>Elements converted per step while reading, so a huge tensor needs no second full-size buffer.</summary>
    const int ChunkElements = 1 << 22;

    readonly SafeFileHandle _handle;
    readonly SafeTensorsHeader _header;
    long _dataBytesRead;

    SafeTensorsFile(string path, SafeFileHandle handle, SafeTensorsHeader header)
    {
        Path = path;
        _handle = handle;
        _header = header;
        Names = header.Entries.Keys.ToArray();
    }

    public string Path { get; }

    public IReadOnlyCollection<string> Names { get; }

    /// <summary>The header's <c>__metadata__</c> map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>Bytes of tensor data read so far: lets tests show that reading one block leaves other data untouched.</summary>
    internal long DataBytesRead => Interlocked.Read(ref _dataBytesRead);

    /// <summary>Opens <paramref name="path"/> and validates its header; throws <see cref="CheckpointException"/> when anything is wrong.</summary>
    public static SafeTensorsFile Open(string path)
    {
        SafeFileHandle handle;
        try { handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: cannot open the file ({e.Message})", e);
        }
        try { return new SafeTensorsFile(path, handle, SafeTensorsHeader.Read(handle, path)); }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _header.Entries.ContainsKey(name);

    public TensorInfo Info(string name) => Find(name).Info;

    /// <summary>Reads one tensor as a float32 CPU tensor; f16 and bf16 widen exactly.</summary>
    public torch.Tensor Read(string name)
    {
        var entry = Find(name);
        var info = entry.Info;
        var result = torch.empty(info.Shape.ToArray(), torch.ScalarType.Float32);
        try
        {
            using var flat = result.view(-1);
            var elementSize = info.DType.ByteSize();
            var bytes = new byte[Math.Min(info.ElementCount, ChunkElements) * elementSize];
            for (long start = 0; start < info.ElementCount; start += ChunkElements)
            {
                var count = (int)Math.Min(ChunkElements, info.ElementCount - start);
                var chunkBytes = bytes.AsSpan(0, count * elementSize);
                SafeTensorsHeader.ReadExactly(_handle, chunkBytes, _header.DataStart + entry.Begin + start * elementSize, Path);
                Interlocked.Add(ref _dataBytesRead, chunkBytes.Length);
                var values = new float[count];
                DTypeConversion.ToFloat32(chunkBytes, info.DType, values);
                using var source = torch.tensor(values);
                using var target = flat.narrow(0, start, count);
                target.copy_(source);
            }
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    SafeTensorsHeader.Entry Find(string name) =>
        _header.Entries.TryGetValue(name, out var entry)
            ? entry
            : throw new CheckpointException($"{Path}: tensor '{name}' is not in this file");

    public void Dispose() => _handle.Dispose();
}
