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

    /// <summary>With two jobs on one GPU, a job's own peak is its process's entry in NVML's list, not the first entry
    /// nor the device's total; the struct is NVML's nvmlProcessInfo_v2_t, 24 bytes.</summary>
    [Fact]
    public void A_jobs_own_gpu_memory_is_its_pids_entry()
    {
        Assert.Equal(24, System.Runtime.InteropServices.Marshal.SizeOf<Nvml.ProcessInfo>());
        Nvml.ProcessInfo[] list = [new() { Pid = 41, UsedGpuMemory = 30L << 30 }, new() { Pid = 42, UsedGpuMemory = 9L << 30 }];
        Assert.Equal(9L << 30, Nvml.Own(list, 42));
        Assert.Null(Nvml.Own(list, 43)); // not listed: pids of another namespace
        Assert.Null(Nvml.Own([new() { Pid = 42, UsedGpuMemory = ulong.MaxValue }], 42)); // NVML_VALUE_NOT_AVAILABLE
    }

    [Fact]
    public void Without_a_gpu_no_gpu_peak_is_recorded_and_nothing_fails()
    {
        if (ResourcePeaks.GpuTotalBytes() is not null) return; // a machine with a GPU: the GPU check reads the peaks there
        var peaks = ResourcePeaks.Start(gpu: true);
        peaks.Dispose(); // joins the sampler: whatever it could read, it has
        Assert.Null(peaks.PeakGpuBytes);
        Assert.Null(peaks.PeakGpuProcessBytes);
    }
}
