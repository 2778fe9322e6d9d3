using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// One <c>.safetensors</c> file, opened lazily: opening reads and checks only the header; <see cref="Read"/> reads
/// one tensor's bytes from disk and nothing else, straight into the tensor's memory. Reads are positional, so several
/// threads may read at once.
/// </summary>
public sealed class SafeTensorsFile : ITensorFile
{
    readonly SafeFileHandle _handle;
    readonly SafeTensorsHeader _header;
    readonly StagingBuffer _staging = new();
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

    public long DataBytesRead => Interlocked.Read(ref _dataBytesRead);

    /// <summary>Opens <paramref name="path"/> and validates its header; throws <see cref="CheckpointException"/> when anything is wrong.</summary>
    public static SafeTensorsFile Open(string path) =>
        TensorBytes.Open(path, handle => new SafeTensorsFile(path, handle, SafeTensorsHeader.Read(handle, path)));

    public bool Contains(string name) => _header.Entries.ContainsKey(name);

    public TensorInfo Info(string name) => Find(name).Info;

    /// <summary>Reads one tensor as a float32 CPU tensor; f16 and bf16 widen exactly.</summary>
    public torch.Tensor Read(string name) => TensorBytes.Float32(ReadStored(name));

    /// <summary>Reads one tensor as a CPU tensor in the dtype it is stored in: the file's bytes go straight into the
    /// tensor's memory, and a caller that copies it into a bf16 model on a GPU moves 2 bytes per element, not 4.</summary>
    public torch.Tensor ReadStored(string name)
    {
        var entry = Find(name);
        var info = entry.Info;
        var result = torch.empty(info.Shape.ToArray(), info.DType.ScalarType());
        try
        {
            TensorBytes.Read(_handle, result, _header.DataStart + entry.Begin, Path);
            Interlocked.Add(ref _dataBytesRead, TensorBytes.Length(result));
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies one tensor into <paramref name="target"/> (a model's parameter, any device and dtype; converted by
    /// libtorch): straight from disk into its memory when it is a contiguous CPU tensor of the stored dtype, otherwise
    /// through the file's <see cref="StagingBuffer"/>. Throws <see cref="CheckpointException"/> when the shapes differ.
    /// </summary>
    public void ReadInto(string name, torch.Tensor target)
    {
        var entry = Find(name);
        var info = entry.Info;
        TensorInfo.RequireShape(Path, name, info.Shape, target);
        var dtype = info.DType.ScalarType();
        var offset = _header.DataStart + entry.Begin;
        using var _ = torch.no_grad();
        if (target.device_type == DeviceType.CPU && target.dtype == dtype && target.is_contiguous())
            TensorBytes.Read(_handle, target, offset, Path);
        else
            _staging.Use(dtype, info.ElementCount, () => _header.Entries.Values.Where(e => e.Info.DType == info.DType).Max(e => e.Info.ElementCount), window =>
            {
                using var staged = window.view(info.Shape.ToArray());
                TensorBytes.Read(_handle, staged, offset, Path);
                target.copy_(staged);
            });
        Interlocked.Add(ref _dataBytesRead, info.ElementCount * info.DType.ByteSize());
    }

    SafeTensorsHeader.Entry Find(string name) =>
        _header.Entries.TryGetValue(name, out var entry)
            ? entry
            : throw new CheckpointException($"{Path}: tensor '{name}' is not in this file");

    public void Dispose()
    {
        _staging.Dispose();
        _handle.Dispose();
    }
}
