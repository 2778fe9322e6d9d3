using Puzzle.Engine.Runtime;
using TorchSharp;

namespace Puzzle.Engine.Tests.Runtime;

/// <summary>How many positions a slice of logits takes: by its bytes, and where the head runs slice by slice on a GPU or
/// on a CPU with huge pages, never so few that each slice's product is bound by reading the head's weight.</summary>
public class LogitSlicesTests
{
    [Theory]
    [InlineData(DeviceType.CPU, true, 2_048, 2_048)] // 16 MB of a small vocabulary: the slice's bytes decide
    [InlineData(DeviceType.CPU, true, 32_768, 128)]
    [InlineData(DeviceType.CPU, true, 128_256, 128)] // 16 MB would be 32 rows: the head's floor
    [InlineData(DeviceType.CPU, false, 128_256, 32)] // without huge pages larger slices are fresh pages: 16 MB
    [InlineData(DeviceType.CUDA, false, 128_256, 523)] // 256 MB
    public void A_slice_that_runs_the_head_has_its_bytes_rows_and_at_least_the_floor(DeviceType device, bool hugePages, long vocab, long rows)
    {
        Assert.Equal(rows, LogitSlices.HeadRows(device, vocab, hugePages));
        Assert.True(rows >= LogitSlices.Rows(LogitSlices.Bytes(device), vocab));
    }

    [Fact]
    public void A_slice_has_at_least_one_row_and_at_most_the_cap()
    {
        Assert.Equal(1, LogitSlices.Rows(100, 128_256));
        Assert.Equal(16_384, LogitSlices.Rows(1L << 40, 8));
    }
}
