using System.Buffers.Binary;
using System.Text.Json;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// The parsed and fully checked header of one safetensors file: 8-byte little-endian header length, a JSON object of
/// tensor entries (plus an optional <c>__metadata__</c> string map), then the data section the entries index into.
/// Everything a later read relies on is checked here, so a bad file fails when opened, not half-way through a job.
/// </summary>
internal sealed class SafeTensorsHeader
{
    /// <summary>Headers above this are refused: real ones are kilobytes, and a corrupt length must not allocate gigabytes.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    internal sealed record Entry(TensorInfo Info, long Begin, long End);

    public required IReadOnlyDictionary<string, Entry> Entries { get; init; }
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    /// <summary>File offset where the data section starts (8 + header length).</summary>
    public required long DataStart { get; init; }

    public static SafeTensorsHeader Read(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string path)
    {
        var fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
            throw Error(path, $"the file is {fileLength} bytes, too short for the 8-byte header length; it is not a safetensors file or it is truncated");
        Span<byte> lengthBytes = stackalloc byte[8];
        ReadExactly(handle, lengthBytes, 0, path);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
        {
            // a clone without Git LFS: its "version https://git-lfs..." reads as a header length of 2.3e18
            var start = new byte[Math.Min(fileLength, GitLfsPointer.StartBytes)];
            ReadExactly(handle, start, 0, path);
            if (GitLfsPointer.Explain(path, start) is { } pointer) throw new CheckpointException(pointer);
        }
        if (headerLength > MaxHeaderBytes)
            throw Error(path, $"header length {headerLength} bytes exceeds the {MaxHeaderBytes / 1_000_000} MB limit; the file is corrupt or not a safetensors file");
        if ((long)headerLength > fileLength - 8)
            throw Error(path, $"header length {headerLength} bytes exceeds the file size ({fileLength} bytes); the file is truncated or corrupt");
        var json = new byte[headerLength];
        ReadExactly(handle, json, 8, path);
        var dataStart = 8 + (long)headerLength;
        return Parse(json, path, dataStart, fileLength - dataStart);
    }

    static SafeTensorsHeader Parse(byte[] json, string path, long dataStart, long dataLength)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw Error(path, $"the header is not valid JSON ({e.Message})"); }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw Error(path, $"the header must be a JSON object, got {document.RootElement.ValueKind}");
            var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") { ReadMetadata(property.Value, path, metadata); continue; }
                if (entries.ContainsKey(property.Name))
                    throw Error(path, $"tensor '{property.Name}' appears twice in the header");
                entries.Add(property.Name, ReadEntry(property.Name, property.Value, path, dataLength));
            }
            CheckNoOverlap(entries, path);
            return new SafeTensorsHeader { Entries = entries, Metadata = metadata, DataStart = dataStart };
        }
    }

    static void ReadMetadata(JsonElement value, string path, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Error(path, $"'__metadata__' must be an object of strings, got {value.ValueKind}");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Error(path, $"'__metadata__.{item.Name}' must be a string, got {item.Value.ValueKind}");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    static Entry ReadEntry(string name, JsonElement value, string path, long dataLength)
    {
        var where = $"tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw Error(path, $"{where}: the entry must be an object, got {value.ValueKind}");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw Error(path, $"{where}: 'dtype' is missing or not a string");
        var dtypeName = dtypeElement.GetString()!;
        if (!TensorDTypes.TryParse(dtypeName, out var dtype))
            throw Error(path, $"unsupported dtype {dtypeName} for tensor '{name}' (supported: F32, F16, BF16)");
        var shape = ReadIntegers(value, "shape", where, path);
        var offsets = ReadIntegers(value, "data_offsets", where, path);
        if (offsets.Length != 2)
            throw Error(path, $"{where}: 'data_offsets' must be [begin, end], got {offsets.Length} numbers");
        var (begin, end) = (offsets[0], offsets[1]);
        if (end < begin)
            throw Error(path, $"{where}: data_offsets [{begin},{end}] end before they begin");
        if (end > dataLength)
            throw Error(path, $"{where}: data_offsets [{begin},{end}] exceed the file's data section ({dataLength} bytes); the file is truncated or the header lies");
        long bytes;
        try { bytes = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.ByteSize()); }
        catch (OverflowException) { throw Error(path, $"{where}: shape {TensorInfo.FormatShape(shape)} is too large"); }
        if (end - begin != bytes)
            throw Error(path, $"{where}: data_offsets [{begin},{end}] span {end - begin} bytes but {dtypeName} shape {TensorInfo.FormatShape(shape)} needs {bytes}; the header lies");
        return new Entry(new TensorInfo(dtype, shape), begin, end);
    }

    static long[] ReadIntegers(JsonElement entry, string field, string where, string path)
    {
        if (!entry.TryGetProperty(field, out var array) || array.ValueKind != JsonValueKind.Array)
            throw Error(path, $"{where}: '{field}' is missing or not an array");
        var values = new long[array.GetArrayLength()];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var v) || v < 0)
                throw Error(path, $"{where}: '{field}' must hold non-negative integers, got {item.GetRawText()}");
            values[i++] = v;
        }
        return values;
    }

    static void CheckNoOverlap(Dictionary<string, Entry> entries, string path)
    {
        var ordered = entries.Where(e => e.Value.End > e.Value.Begin).OrderBy(e => e.Value.Begin).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            var (previous, current) = (ordered[i - 1], ordered[i]);
            if (current.Value.Begin < previous.Value.End)
                throw Error(path, $"tensor '{current.Key}': data_offsets [{current.Value.Begin},{current.Value.End}] overlap tensor '{previous.Key}' [{previous.Value.Begin},{previous.Value.End}]; the header lies");
        }
    }

    internal static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> buffer, long offset, string path)
    {
        while (buffer.Length > 0)
        {
            var n = RandomAccess.Read(handle, buffer, offset);
            if (n == 0) throw Error(path, $"unexpected end of file at byte {offset}; the file is truncated");
            buffer = buffer[n..];
            offset += n;
        }
    }

    internal static CheckpointException Error(string path, string message) => new($"{path}: {message}");
}
