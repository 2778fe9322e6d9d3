using TorchSharp;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// How much of a batch's logits [positions, vocabulary] a loss or a metric takes at a time, in float32 bytes: the
/// head's output, its softmaxes and their gradients never exist whole (a 128k vocabulary over 4k tokens is 2 GB per
/// tensor). On a GPU a slice is 256 MB, few enough launches for the caching allocator to serve. On a CPU it is 16 MB,
/// half of glibc's mmap threshold (<see cref="MallocTuning"/>): a larger temporary is a fresh mmap whose pages are
/// faulted in on every use, which made the metrics of one model against a teacher over 1,022 positions of a 128k
/// vocabulary take 8.8 s in 256 MB slices and 0.69 s in 16 MB ones on this 2-core CPU (32k vocabulary: 1.78 s and
/// 0.18 s; `Puzzle.Benchmarks metrics`).
/// </summary>
public static class LogitSlices
{
    public const long GpuBytes = 256L << 20;
    public const long CpuBytes = MallocTuning.MmapThresholdBytes / 2;

    /// <summary>Positions per slice at most: sums over fewer than ATen's grain size (32768) run on one thread.</summary>
    const long MaxRows = 16384;

    /// <summary>The slice size for logits on <paramref name="device"/>.</summary>
    public static long Bytes(DeviceType device) => device == DeviceType.CPU ? CpuBytes : GpuBytes;

    /// <summary>Positions per slice of <paramref name="bytes"/> float32 bytes over <paramref name="vocab"/> columns.</summary>
    public static long Rows(long bytes, long vocab) => Math.Clamp(bytes / (vocab * 4), 1, MaxRows);
}
