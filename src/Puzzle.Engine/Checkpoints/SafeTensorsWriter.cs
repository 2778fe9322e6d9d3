using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Writes named tensors to one <c>.safetensors</c> file the way PyTorch's safetensors does: names sorted, data packed
/// in that order, header padded with spaces to a multiple of 8 bytes, <c>__metadata__ {"format": "pt"}</c>. The file
/// is written beside its destination and renamed into place, so a reader never sees half a file.
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> (any dtype and device) as <paramref name="dtype"/>; returns the data bytes written.</summary>
    public static long Write(string path, IReadOnlyDictionary<string, torch.Tensor> tensors, TensorDType dtype = TensorDType.F32) =>
        Write(path, tensors.Keys, n => tensors[n].shape, (stream, n) => WriteData(stream, tensors[n], dtype), dtype);

    /// <summary>
    /// Writes the tensors <paramref name="names"/> of <paramref name="source"/> as <paramref name="dtype"/>, reading one
    /// at a time, so a checkpoint converts without holding it in memory; returns the data bytes written.
    /// </summary>
    public static long Write(string path, ITensorSource source, IEnumerable<string> names, TensorDType dtype = TensorDType.F32) =>
        Write(path, names, n => source.Info(n).Shape.ToArray(), (stream, n) =>
        {
            using var tensor = source.Read(n);
            WriteData(stream, tensor, dtype);
        }, dtype);

    /// <summary>
    /// The size of the file <see cref="Write(string, IReadOnlyDictionary{string, torch.Tensor}, TensorDType)"/> makes of
    /// tensors of these names and shapes, header included, to the byte: what a writer checks against a drive's free space.
    /// </summary>
    public static long FileBytes(IEnumerable<(string Name, long[] Shape)> tensors, TensorDType dtype = TensorDType.F32)
    {
        var shapes = tensors.ToDictionary(t => t.Name, t => t.Shape);
        var header = BuildHeader(shapes.Keys.OrderBy(n => n, StringComparer.Ordinal).ToList(), n => shapes[n], dtype, out var dataBytes);
        return sizeof(ulong) + header.Length + dataBytes;
    }

    static long Write(string path, IEnumerable<string> tensorNames, Func<string, long[]> shapeOf, Action<Stream, string> writeData, TensorDType dtype)
    {
        var names = tensorNames.OrderBy(n => n, StringComparer.Ordinal).ToList();
        var header = BuildHeader(names, shapeOf, dtype, out var dataBytes);
        AtomicFile.Write(path, temp =>
        {
            using var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var name in names) writeData(stream, name);
            stream.Flush(flushToDisk: true);
        });
        return dataBytes;
    }

    static byte[] BuildHeader(List<string> names, Func<string, long[]> shapeOf, TensorDType dtype, out long dataBytes)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (var name in names)
            {
                var shape = shapeOf(name);
                var bytes = shape.Aggregate(1L, (a, b) => a * b) * dtype.ByteSize();
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype.SafeTensorsName());
                json.WriteStartArray("shape");
                foreach (var d in shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
            dataBytes = offset;
        }
        var padded = (buffer.Length + 7) / 8 * 8; // so the data section starts 8-byte aligned
        var header = new byte[padded];
        buffer.ToArray().CopyTo(header, 0);
        header.AsSpan((int)buffer.Length).Fill((byte)' ');
        return header;
    }

    /// <summary>The tensor in <paramref name="dtype"/> (libtorch rounds to nearest, ties to even), its bytes written
    /// as they lie in memory.</summary>
    static void WriteData(Stream stream, torch.Tensor tensor, TensorDType dtype)
    {
        using var scope = torch.NewDisposeScope();
        TensorBytes.Write(stream, tensor.detach().to(dtype.ScalarType()).cpu().contiguous());
    }
}
