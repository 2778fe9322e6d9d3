namespace Puzzle.Engine.Runtime;

/// <summary>
/// The peak memory of a job: the process's resident set (VmHWM, so the process's life, which a job process is) and, for
/// a job on a GPU, the device memory in use at its highest, sampled every 100 ms through the CUDA driver (libcuda),
/// since TorchSharp 0.107 exposes no allocator statistics. Device memory is device-wide: with one job per GPU it is the
/// job's, allocator cache included; with <c>executor.jobs_per_gpu</c> above 1 it is an upper bound, and the process's
/// own device memory at its highest, read through NVML at the same times, is the job's (where NVML lists this process:
/// not inside a container with pids of its own). Whatever cannot be read is left out, never an error.
/// </summary>
public sealed class ResourcePeaks : IDisposable
{
    readonly Thread? _sampler;
    readonly CancellationTokenSource _stop = new();
    ulong _total, _lowestFree = ulong.MaxValue;
    long _processPeak = -1;

    ResourcePeaks(bool gpu)
    {
        if (!gpu) return;
        _sampler = new Thread(Sample) { IsBackground = true, Name = "gpu memory sampler" };
        _sampler.Start();
    }

    /// <param name="gpu">whether to sample device 0's memory (the job's device, as CUDA_VISIBLE_DEVICES numbers it)</param>
    public static ResourcePeaks Start(bool gpu) => new(gpu);

    /// <summary>The process's peak resident set so far, in bytes; null where /proc is not available.</summary>
    public static long? PeakRss() => StatusBytes("VmHWM");

    /// <summary>The process's resident set now, in bytes; null where /proc is not available.</summary>
    public static long? Rss() => StatusBytes("VmRSS");

    static long? StatusBytes(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return null;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(field + ":"));
        return line is null ? null : KilobytesLine(line);
    }

    /// <summary>The bytes of a /proc/self/status line such as <c>VmHWM:\t  123456 kB</c>. The kernel pads the number
    /// with spaces after a tab to 8 characters, so from 10 GB (8 digits of kB) on nothing but the tab separates it.</summary>
    internal static long KilobytesLine(string line) =>
        long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;

    /// <summary>The memory of GPU 0 (as CUDA_VISIBLE_DEVICES numbers it) in bytes, read from the CUDA driver without
    /// making a context; null where there is no driver or no GPU.</summary>
    public static long? GpuTotalBytes() => GpuTotal.Value;

    static readonly Lazy<long?> GpuTotal = new(() =>
    {
        try
        {
            return CudaDriver.cuInit(0) == 0 && CudaDriver.cuDeviceGet(out var device, 0) == 0 && CudaDriver.cuDeviceTotalMem_v2(out var total, device) == 0
                ? (long)total : null;
        }
        catch (Exception e) when (CudaDriver.IsMissing(e)) { return null; }
    });

    /// <summary>Device memory in use at its highest while sampling, in bytes; null when it could not be read.</summary>
    public long? PeakGpuBytes => _lowestFree == ulong.MaxValue ? null : (long)(_total - _lowestFree);

    /// <summary>This process's own device memory at its highest while sampling, in bytes (NVML); null when it could not
    /// be read.</summary>
    public long? PeakGpuProcessBytes => _processPeak < 0 ? null : _processPeak;

    void Sample()
    {
        try
        {
            if (CudaDriver.cuInit(0) != 0 || CudaDriver.cuDeviceGet(out var device, 0) != 0 ||
                CudaDriver.cuDevicePrimaryCtxRetain(out var context, device) != 0 || CudaDriver.cuCtxSetCurrent(context) != 0) return;
            try
            {
                var nvml = Nvml.Device(device);
                var pid = Environment.ProcessId;
                do
                {
                    if (CudaDriver.cuMemGetInfo_v2(out var free, out var total) == 0)
                    {
                        _total = total;
                        if (free < _lowestFree) _lowestFree = free;
                    }
                    if (nvml is { } handle && Nvml.ProcessBytes(handle, pid) is { } own && own > _processPeak) _processPeak = own;
                } while (!_stop.Token.WaitHandle.WaitOne(100));
            }
            finally { CudaDriver.cuDevicePrimaryCtxRelease_v2(device); }
        }
        catch (Exception e) when (CudaDriver.IsMissing(e)) { }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _sampler?.Join();
        _stop.Dispose();
    }
}
