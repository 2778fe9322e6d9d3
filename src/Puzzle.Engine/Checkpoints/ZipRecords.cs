using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Where each record of a zip archive's stored (uncompressed) files lies in the archive, from its central directory
/// (zip64 included: a 70B model's shards pass 4 GB), so a record is read in place, positionally, like a safetensors
/// tensor. torch.save writes its archive so, every record stored. Only the directory and the 30-byte local headers are
/// read here, never a record's bytes.
/// </summary>
internal sealed class ZipRecords
{
    const uint LocalHeader = 0x04034b50, CentralHeader = 0x02014b50, End = 0x06054b50, End64 = 0x06064b50, End64Locator = 0x07064b50;
    const int EndBytes = 22, LocalHeaderBytes = 30, CentralHeaderBytes = 46;
    /// <summary>Directories above this are refused: torch's hold a few hundred entries of about 80 bytes.</summary>
    const long MaxDirectoryBytes = 100_000_000;

    readonly SafeFileHandle _handle;
    readonly string _path;
    readonly Dictionary<string, (long HeaderOffset, long Length)> _entries;

    ZipRecords(SafeFileHandle handle, string path, Dictionary<string, (long, long)> entries)
    {
        _handle = handle;
        _path = path;
        _entries = entries;
    }

    /// <summary>The names of the archive's files.</summary>
    public IReadOnlyCollection<string> Names => _entries.Keys;

    /// <summary>Reads the central directory; throws <see cref="CheckpointException"/> naming the file when the archive
    /// is truncated, damaged, or holds a compressed or encrypted file.</summary>
    public static ZipRecords Read(SafeFileHandle handle, string path)
    {
        var fileLength = RandomAccess.GetLength(handle);
        // the end record is the last 22 bytes, unless a comment (at most 65,535 bytes) follows it
        var tail = new byte[Math.Min(fileLength, EndBytes + ushort.MaxValue)];
        SafeTensorsHeader.ReadExactly(handle, tail, fileLength - tail.Length, path);
        var at = -1;
        for (var i = tail.Length - EndBytes; i >= 0 && at < 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == End && i + EndBytes + BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(i + 20)) == tail.Length)
                at = i;
        if (at < 0)
            throw Error(path, "the zip archive's end record is missing; the file is truncated or damaged");
        var end = tail.AsSpan(at);
        long count = BinaryPrimitives.ReadUInt16LittleEndian(end[10..]);
        long size = BinaryPrimitives.ReadUInt32LittleEndian(end[12..]);
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(end[16..]);
        if (count == ushort.MaxValue || size == uint.MaxValue || offset == uint.MaxValue)
            (count, size, offset) = ReadEnd64(handle, path, fileLength - tail.Length + at);
        if (size < 0 || offset < 0 || size > MaxDirectoryBytes || offset + size > fileLength)
            throw Error(path, $"the zip archive's central directory ({size} bytes at {offset}) lies outside the file of {fileLength} bytes; the file is truncated or damaged");
        var directory = new byte[size];
        SafeTensorsHeader.ReadExactly(handle, directory, offset, path);
        return new ZipRecords(handle, path, ParseDirectory(directory, count, offset, path));
    }

    static (long Count, long Size, long Offset) ReadEnd64(SafeFileHandle handle, string path, long endOffset)
    {
        Span<byte> locator = stackalloc byte[20];
        if (endOffset < locator.Length)
            throw Error(path, "the zip archive's zip64 end record locator is missing; the file is damaged");
        SafeTensorsHeader.ReadExactly(handle, locator, endOffset - locator.Length, path);
        if (BinaryPrimitives.ReadUInt32LittleEndian(locator) != End64Locator)
            throw Error(path, "the zip archive's zip64 end record locator is missing; the file is damaged");
        var at = BinaryPrimitives.ReadInt64LittleEndian(locator[8..]);
        Span<byte> end = stackalloc byte[56];
        if (at < 0 || at + end.Length > endOffset)
            throw Error(path, $"the zip archive's zip64 end record offset {at} lies outside the file; the file is damaged");
        SafeTensorsHeader.ReadExactly(handle, end, at, path);
        if (BinaryPrimitives.ReadUInt32LittleEndian(end) != End64)
            throw Error(path, "the zip archive's zip64 end record is missing; the file is damaged");
        return (BinaryPrimitives.ReadInt64LittleEndian(end[32..]), BinaryPrimitives.ReadInt64LittleEndian(end[40..]), BinaryPrimitives.ReadInt64LittleEndian(end[48..]));
    }

    static Dictionary<string, (long, long)> ParseDirectory(byte[] directory, long count, long directoryOffset, string path)
    {
        var entries = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        var span = directory.AsSpan();
        var at = 0;
        for (long i = 0; i < count; i++)
        {
            if (at + CentralHeaderBytes > span.Length || BinaryPrimitives.ReadUInt32LittleEndian(span[at..]) != CentralHeader)
                throw Error(path, $"the zip archive's central directory ends after {i} of its {count} entries; the file is damaged");
            var header = span[at..];
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
            var method = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            long length = BinaryPrimitives.ReadUInt32LittleEndian(header[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]), extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[30..]),
                commentLength = BinaryPrimitives.ReadUInt16LittleEndian(header[32..]);
            long local = BinaryPrimitives.ReadUInt32LittleEndian(header[42..]);
            if (at + CentralHeaderBytes + nameLength + extraLength + commentLength > span.Length)
                throw Error(path, "the zip archive's central directory is cut short; the file is damaged");
            var name = System.Text.Encoding.UTF8.GetString(header.Slice(CentralHeaderBytes, nameLength));
            (length, compressed, local) = Zip64(header.Slice(CentralHeaderBytes + nameLength, extraLength), length, compressed, local);
            if ((flags & 1) != 0) throw Error(path, $"'{name}' in the zip archive is encrypted");
            if (method != 0 || compressed != length)
                throw Error(path, $"'{name}' in the zip archive is compressed (method {method}); torch.save stores its records uncompressed, and only those are read");
            if (local < 0 || length < 0 || local + LocalHeaderBytes + length > directoryOffset)
                throw Error(path, $"'{name}' in the zip archive ({length} bytes at {local}) lies outside the archive's data; the file is damaged");
            if (!entries.TryAdd(name, (local, length)))
                throw Error(path, $"'{name}' appears twice in the zip archive");
            at += CentralHeaderBytes + nameLength + extraLength + commentLength;
        }
        return entries;
    }

    /// <summary>The zip64 extra field's sizes and offset, for those the header gives as 0xFFFFFFFF (in this order).</summary>
    static (long Length, long Compressed, long Offset) Zip64(ReadOnlySpan<byte> extra, long length, long compressed, long offset)
    {
        while (extra.Length >= 4)
        {
            var id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            var size = Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]), extra.Length - 4);
            var field = extra.Slice(4, size);
            if (id == 1)
            {
                if (length == uint.MaxValue && field.Length >= 8)
                {
                    length = BinaryPrimitives.ReadInt64LittleEndian(field);
                    field = field[8..];
                }
                if (compressed == uint.MaxValue && field.Length >= 8)
                {
                    compressed = BinaryPrimitives.ReadInt64LittleEndian(field);
                    field = field[8..];
                }
                if (offset == uint.MaxValue && field.Length >= 8) offset = BinaryPrimitives.ReadInt64LittleEndian(field);
            }
            extra = extra[(4 + size)..];
        }
        return (length, compressed, offset);
    }

    /// <summary>The file offset where record <paramref name="name"/>'s bytes begin, and their length: past its local
    /// header, whose extra field (torch pads it to align records to 64 bytes) may differ from the directory's.</summary>
    public (long Offset, long Length) Locate(string name)
    {
        var (local, length) = _entries[name];
        Span<byte> header = stackalloc byte[LocalHeaderBytes];
        SafeTensorsHeader.ReadExactly(_handle, header, local, _path);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != LocalHeader)
            throw Error(_path, $"'{name}' in the zip archive has no local header at byte {local}; the file is damaged");
        var data = local + LocalHeaderBytes + BinaryPrimitives.ReadUInt16LittleEndian(header[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
        if (data + length > RandomAccess.GetLength(_handle))
            throw Error(_path, $"'{name}' in the zip archive ({length} bytes at {data}) runs past the end of the file; the file is truncated");
        return (data, length);
    }

    /// <summary>A small record's bytes (data.pkl, byteorder), at most <paramref name="limit"/> of them.</summary>
    public byte[] ReadAll(string name, long limit)
    {
        var (offset, length) = Locate(name);
        if (length > limit) throw Error(_path, $"'{name}' in the zip archive is {length} bytes, over the {limit}-byte limit for it; the file is damaged");
        var bytes = new byte[length];
        SafeTensorsHeader.ReadExactly(_handle, bytes, offset, _path);
        return bytes;
    }

    static CheckpointException Error(string path, string message) => SafeTensorsHeader.Error(path, message);
}
