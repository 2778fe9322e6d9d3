using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests.Runtime;

public class ResourcePeaksTests
{
    /// <summary>
    /// /proc/self/status pads a size to 8 characters after its tab: below 10 GB spaces separate the number, from 10 GB
    /// on only the tab does. A job of an 8B-shaped parent holds more than that on the host; reading its peak failed so.
    /// </summary>
    [Theory]
    [InlineData("VmHWM:\t  123456 kB", 123456L * 1024)]
    [InlineData("VmHWM:\t12345678 kB", 12345678L * 1024)]
    [InlineData("VmRSS:\t123456789 kB", 123456789L * 1024)]
    public void A_status_line_is_read_at_every_size(string line, long bytes) =>
        Assert.Equal(bytes, ResourcePeaks.KilobytesLine(line));

    [Fact]
    public void This_processs_peak_is_at_least_its_resident_set()
    {
        var rss = ResourcePeaks.Rss();
        var peak = ResourcePeaks.PeakRss();
        Assert.NotNull(rss);
        Assert.True(rss > 1 << 20 && peak >= rss, $"resident {rss}, peak {peak}");
    }
}
