using System.Numerics;
using System.Runtime.InteropServices;
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

    /// <summary>Opens a weight file for positional reads and makes its reader with <paramref name="make"/>, which owns
    /// the handle from then on; the handle is closed when <paramref name="make"/> throws. A file that cannot be opened
    /// is a <see cref="CheckpointException"/> naming it.</summary>
    public static T Open<T>(string path, Func<SafeFileHandle, T> make)
    {
        SafeFileHandle handle;
        try { handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: cannot open the file ({e.Message})", e);
        }
        try { return make(handle); }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>A tensor read as stored, as float32 (f16 and bf16 widen exactly); <paramref name="stored"/> is disposed
    /// when a new tensor replaces it.</summary>
    public static torch.Tensor Float32(torch.Tensor stored)
    {
        if (stored.dtype == torch.ScalarType.Float32) return stored;
        using (stored) return stored.to(torch.ScalarType.Float32);
    }

    /// <summary>Fills <paramref name="tensor"/> (contiguous, on the CPU) with the file's bytes from <paramref name="offset"/>.</summary>
    public static void Read(SafeFileHandle handle, torch.Tensor tensor, long offset, string path, int sliceBytes = SliceBytes) =>
        Slices(tensor, sliceBytes, (start, slice) => SafeTensorsHeader.ReadExactly(handle, slice.bytes, offset + start * tensor.ElementSize, path));

    /// <summary>Writes <paramref name="tensor"/>'s bytes (contiguous, on the CPU) to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, torch.Tensor tensor, int sliceBytes = SliceBytes) => Slices(tensor, sliceBytes, (_, slice) => stream.Write(slice.bytes));

    /// <summary>
    /// How many elements of a float32, float16 or bfloat16 tensor (contiguous, on the CPU) are NaN or infinite: those
    /// whose exponent bits are all ones, counted on the bits at memory speed (float arithmetic on float16 and bfloat16
    /// runs at a tenth of that on CPUs).
    /// </summary>
    public static long NonFinite(torch.Tensor tensor)
    {
        long count = 0;
        Slices(tensor, SliceBytes, (_, slice) => count += tensor.dtype switch
        {
            torch.ScalarType.Float32 => ExponentAllOnes(MemoryMarshal.Cast<byte, uint>(slice.bytes), 0x7F80_0000u),
            torch.ScalarType.BFloat16 => ExponentAllOnes(MemoryMarshal.Cast<byte, ushort>(slice.bytes), (ushort)0x7F80),
            torch.ScalarType.Float16 => ExponentAllOnes(MemoryMarshal.Cast<byte, ushort>(slice.bytes), (ushort)0x7C00),
            _ => throw new ArgumentException($"float32, float16 or bfloat16 is needed, not {tensor.dtype}", nameof(tensor)),
        });
        return count;
    }

    static long ExponentAllOnes<T>(ReadOnlySpan<T> values, T mask) where T : unmanaged, IBinaryInteger<T>
    {
        long count = 0;
        var vectors = MemoryMarshal.Cast<T, Vector<T>>(values);
        var wide = new Vector<T>(mask);
        foreach (var v in vectors)
            if (Vector.EqualsAny(v & wide, wide)) // rare: count that vector's lanes
                for (var lane = 0; lane < Vector<T>.Count; lane++)
                    if ((v[lane] & mask) == mask) count++;
        foreach (var x in values[(vectors.Length * Vector<T>.Count)..])
            if ((x & mask) == mask) count++;
        return count;
    }

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
