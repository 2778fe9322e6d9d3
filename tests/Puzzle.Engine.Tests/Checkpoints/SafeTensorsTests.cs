using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Runtime;
using TorchSharp;
using Xunit;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Checkpoints;

public sealed class SafeTensorsTests : IDisposable
{
    readonly TempDir _dir = new();

    public SafeTensorsTests() => TorchRuntime.EnsureLoaded();

    public void Dispose() => _dir.Dispose();

    string WriteSample(TensorDType dtype = TensorDType.F32)
    {
        var path = _dir["sample.safetensors"];
        using var a = torch.arange(12, torch.ScalarType.Float32).reshape(3, 4);
        using var b = torch.tensor(new[] { 0.5f, -2f, 1024f });
        SafeTensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["b.weight"] = b, ["a.weight"] = a }, dtype);
        return path;
    }

    [Fact]
    public void Float32RoundTripIsBitExactIncludingSpecialValues()
    {
        var values = new[] { 0f, -0f, 1f, float.Epsilon, -float.Epsilon, 1e-40f, float.MaxValue, float.MinValue,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.UInt32BitsToSingle(0x7FC00123), 3.14159274f };
        using var special = torch.tensor(values);
        using var random = torch.randn([7, 5, 3], generator: new torch.Generator(35));
        var path = _dir["exact.safetensors"];
        SafeTensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["special"] = special, ["random"] = random });

        using var file = SafeTensorsFile.Open(path);
        using var readSpecial = file.Read("special");
        using var readRandom = file.Read("random");
        AssertBitEqual(special, readSpecial, "special");
        AssertBitEqual(random, readRandom, "random");
        Assert.Equal(new long[] { 7, 5, 3 }, file.Info("random").Shape);
        Assert.Equal(TensorDType.F32, file.Info("random").DType);
    }

    [Theory]
    [InlineData(TensorDType.BF16)]
    [InlineData(TensorDType.F16)]
    public void HalfPrecisionRoundTripsRepresentableValuesExactly(TensorDType dtype)
    {
        // values exact in both bf16 and f16: small integers, powers of two, short binary fractions
        using var values = torch.tensor(new[] { 0f, -0f, 1f, -1.5f, 0.375f, 2048f, -0.0078125f, 96f, float.PositiveInfinity });
        var path = _dir[$"{dtype}.safetensors"];
        SafeTensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["v"] = values }, dtype);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(dtype, file.Info("v").DType);
        Assert.Equal(values.numel() * 2, new FileInfo(path).Length - 8 - HeaderLength(path));
        using var read = file.Read("v");
        AssertBitEqual(values, read, "v");
    }

    [Fact]
    public void NarrowingRoundsToNearestEvenLikePyTorch()
    {
        using var scope = torch.NewDisposeScope(); // holds every temporary until the test ends
        using var values = torch.randn([1000], generator: new torch.Generator(67));
        foreach (var (dtype, scalar) in new[] { (TensorDType.BF16, torch.ScalarType.BFloat16), (TensorDType.F16, torch.ScalarType.Float16) })
        {
            var path = _dir[$"round-{dtype}.safetensors"];
            SafeTensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["v"] = values }, dtype);
            using var file = SafeTensorsFile.Open(path);
            using var read = file.Read("v");
            using var torchRounded = values.to(scalar).to(torch.ScalarType.Float32);
            AssertBitEqual(torchRounded, read, $"v as {dtype}");
        }
    }

    [Theory]
    [InlineData(TensorDType.F32)]
    [InlineData(TensorDType.BF16)]
    public void TensorsLargerThanOneSliceAreReadAndWrittenWhole(TensorDType dtype)
    {
        using var scope = torch.NewDisposeScope(); // holds every temporary until the test ends
        // slices of 100 bytes stand in for the 1 GiB ones: 250 float32 or 500 bf16 elements do not divide 1001
        using var values = torch.randn([7, 143], generator: new torch.Generator(5)).to(dtype.ScalarType());
        var path = _dir[$"sliced-{dtype}.bin"];
        using (var stream = File.Create(path)) TensorBytes.Write(stream, values, sliceBytes: 100);
        Assert.Equal(values.numel() * values.ElementSize, new FileInfo(path).Length);
        using var read = torch.empty([7, 143], dtype.ScalarType());
        using (var handle = File.OpenHandle(path)) TensorBytes.Read(handle, read, 0, path, sliceBytes: 100);
        Assert.Equal(values.bytes.ToArray(), read.bytes.ToArray());
        Assert.Equal(values.bytes.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public void EachTorchFloatTypeHasTheSafetensorsTypeThatHoldsItExactly()
    {
        foreach (var dtype in Enum.GetValues<TensorDType>()) Assert.Equal(dtype, TensorDTypes.Of(dtype.ScalarType()));
        Assert.Throws<ArgumentException>(() => TensorDTypes.Of(torch.ScalarType.Float64));
    }

    [Fact]
    public void ReadIntoOutlivesTheCallersDisposeScopeAndConverts()
    {
        using var scope = torch.NewDisposeScope(); // holds every temporary until the test ends
        using var values = torch.randn([4, 6], generator: new torch.Generator(3));
        var path = _dir["into.safetensors"];
        SafeTensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["a"] = values, ["b"] = values * 2 }, TensorDType.BF16);
        using var file = SafeTensorsFile.Open(path);
        using var target = torch.zeros([4, 6]); // float32: through the file's bf16 buffer
        using (torch.NewDisposeScope()) file.ReadInto("a", target); // the buffer is made inside a scope that then ends
        file.ReadInto("b", target); // and used again after it
        using var expected = (values * 2).to(torch.ScalarType.BFloat16).to(torch.ScalarType.Float32);
        AssertBitEqual(expected, target, "b");
        using var wrong = torch.zeros([6, 4]);
        Assert.Contains("'a' is [4, 6], the model's is [6, 4]", Assert.Throws<CheckpointException>(() => file.ReadInto("a", wrong)).Message);
    }

    [Fact]
    public void StoredDtypeIsReadAsStored()
    {
        using var values = torch.randn([5, 3], generator: new torch.Generator(9));
        var path = _dir["stored.safetensors"];
        SafeTensorsWriter.Write(path, new Dictionary<string, torch.Tensor> { ["v"] = values }, TensorDType.BF16);
        using var file = SafeTensorsFile.Open(path);
        using var stored = file.ReadStored("v");
        Assert.Equal(torch.ScalarType.BFloat16, stored.dtype);
        using var rounded = values.to(torch.ScalarType.BFloat16);
        Assert.Equal(rounded.bytes.ToArray(), stored.bytes.ToArray());
    }

    [Fact]
    public void HeaderIsAlignedSortedAndCarriesFormatMetadata()
    {
        var path = WriteSample();
        Assert.Equal(0, HeaderLength(path) % 8);
        var header = HeaderJson(path);
        Assert.Equal("pt", header["__metadata__"]!["format"]!.GetValue<string>());
        Assert.Equal(new[] { "__metadata__", "a.weight", "b.weight" }, header.Select(p => p.Key));
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(new[] { "a.weight", "b.weight" }, file.Names.Order());
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp-*", SearchOption.AllDirectories));
    }

    [Fact]
    public void ReadsOnlyTheRequestedTensorsBytes()
    {
        var path = WriteSample();
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(0, file.DataBytesRead);
        using var b = file.Read("b.weight");
        Assert.Equal(3 * 4, file.DataBytesRead);
        Assert.Equal(new[] { 0.5f, -2f, 1024f }, b.data<float>().ToArray());
    }

    [Fact]
    public void TruncatedFileIsRefused()
    {
        var path = WriteSample();
        using (var stream = File.Open(path, FileMode.Open)) stream.SetLength(stream.Length - 4);
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "tensor 'b.weight'", "truncated");
    }

    [Fact]
    public void OffsetsBeyondTheDataSectionAreRefused()
    {
        var path = WriteSample();
        EditHeader(path, h => h["b.weight"]!["data_offsets"] = new JsonArray(48, 60 + 4000));
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "tensor 'b.weight'", "exceed the file's data section");
    }

    [Fact]
    public void OffsetsThatDisagreeWithTheShapeAreRefused()
    {
        var path = WriteSample();
        EditHeader(path, h => h["a.weight"]!["shape"] = new JsonArray(3, 3));
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "tensor 'a.weight'", "[3, 3]", "needs 36");
    }

    [Fact]
    public void OverlappingOffsetsAreRefused()
    {
        var path = WriteSample();
        EditHeader(path, h =>
        {
            h["b.weight"]!["data_offsets"] = new JsonArray(40, 52);
        });
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "tensor 'b.weight'", "overlap tensor 'a.weight'");
    }

    [Theory]
    [InlineData("I64")]
    [InlineData("F64")]
    [InlineData("F8_E4M3")]
    public void UnsupportedDtypesAreRefused(string dtype)
    {
        var path = WriteSample();
        EditHeader(path, h => h["a.weight"]!["dtype"] = dtype);
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, $"unsupported dtype {dtype} for tensor 'a.weight'");
    }

    [Fact]
    public void HeaderLengthLargerThanTheFileIsRefused()
    {
        var path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)bytes.Length + 100);
        File.WriteAllBytes(path, bytes);
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "header length", "exceeds the file size");
    }

    [Fact]
    public void HeaderLengthOverTheLimitIsRefusedWithoutAllocatingIt()
    {
        var path = WriteSample();
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue - 5);
        File.WriteAllBytes(path, bytes);
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "header length", "100 MB limit");
    }

    [Fact]
    public void AGitLfsPointerIsNamedWithWhatToDo()
    {
        // what a model repository cloned without Git LFS holds in place of its weights
        var path = _dir["model-00001-of-00002.safetensors"];
        File.WriteAllText(path, "version https://git-lfs.github.com/spec/v1\n" +
                                "oid sha256:4d8b4d6b0a2c1f0e6a3a7f6f0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6\nsize 4976698672\n");
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), $"{path} is a Git LFS pointer to the file of {4976698672:N0} bytes, not the file itself",
            "cloned without Git LFS", "git lfs pull");
    }

    [Fact]
    public void MalformedEntriesNameTheirField()
    {
        var path = WriteSample();
        EditHeader(path, h => h["a.weight"]!["shape"] = new JsonArray(3, -4));
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "tensor 'a.weight'", "'shape'");
        File.WriteAllBytes(path, [1, 0, 0]);
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "too short");
        var garbage = new byte[20];
        BinaryPrimitives.WriteUInt64LittleEndian(garbage, 12);
        Encoding.ASCII.GetBytes("{not json!!}").CopyTo(garbage, 8);
        File.WriteAllBytes(path, garbage);
        AssertFails(() => SafeTensorsFile.Open(path).Dispose(), path, "not valid JSON");
    }

    [Fact]
    public void ReadingAnUnknownTensorNamesIt()
    {
        using var file = SafeTensorsFile.Open(WriteSample());
        AssertFails(() => file.Read("c.weight"), file.Path, "tensor 'c.weight'");
    }

    static long HeaderLength(string path)
    {
        Span<byte> bytes = stackalloc byte[8];
        using var stream = File.OpenRead(path);
        stream.ReadExactly(bytes);
        return (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    static JsonObject HeaderJson(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)HeaderLength(path)))!.AsObject();
    }
}
