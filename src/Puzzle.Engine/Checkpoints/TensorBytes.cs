using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// A CPU tensor's memory read from or written to a file as it lies: the file's bytes go straight into the tensor (and
/// back), a slice of at most 1 GiB at a time (<c>Tensor.bytes</c> is a span, so under 2 GiB), with no conversion or
/// second buffer in .NET. Safetensors data is little-endian, as tensor memory is on every platform .NET runs this on.
/// </summary>
internal static class TensorBytes
{
    const int SliceBytes = 1 << 30;

    public static long Length(torch.Tensor tensor) => tensor.numel() * tensor.ElementSize;

    /// <summary>Fills <paramref name="tensor"/> (contiguous, on the CPU) with the file's bytes from <paramref name="offset"/>.</summary>
    public static void Read(SafeFileHandle handle, torch.Tensor tensor, long offset, string path, int sliceBytes = SliceBytes) =>
        Slices(tensor, sliceBytes, (start, slice) => SafeTensorsHeader.ReadExactly(handle, slice.bytes, offset + start * tensor.ElementSize, path));

    /// <summary>Writes <paramref name="tensor"/>'s bytes (contiguous, on the CPU) to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, torch.Tensor tensor, int sliceBytes = SliceBytes) => Slices(tensor, sliceBytes, (_, slice) => stream.Write(slice.bytes));

    static void Slices(torch.Tensor tensor, int sliceBytes, Action<long, torch.Tensor> each)
    {
        if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
            throw new ArgumentException("a contiguous CPU tensor is needed", nameof(tensor));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is not");
        using var flat = tensor.view(-1);
        var perSlice = sliceBytes / tensor.ElementSize;
        for (long start = 0; start < flat.numel(); start += perSlice)
        {
            using var slice = flat.narrow(0, start, Math.Min(perSlice, flat.numel() - start));
            each(start, slice);
        }
    }
}
