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

    /// <summary>
    /// Positions per slice at least where each slice runs the head's matrix product (GKD's training step; the metrics of
    /// Evaluate, Score and Heal's checks, from a model's hidden states) on a GPU or on a CPU with huge pages: the product
    /// reads the head's whole weight once per slice, so a slice of few rows is bound by that read. One GKD step over
    /// 4 × 256 positions of a 2-layer model of the 1B width (vocabulary 128,256, this project's 2-core CPU, 2026-12-01,
    /// <c>Puzzle.Benchmarks gkd-step</c>): with huge pages 35.7 s in 16 MB slices (32 rows) and 29.5 s in slices of 128
    /// rows (64 MB), at the same peak memory; without them 46.2 and 49.2 s, the larger slices' fresh pages costing what
    /// their products save (and more at smaller widths: a 256-wide model's GKD took 380 s in 256 MB slices, 106 s in
    /// 16 MB ones). The head's products alone: 21 s per 1,024 rows in slices of 32, 12 s in slices of 256. The 1B shape's
    /// Heal check of a 753M-parameter child (16 sequences of 128 positions) took 64.6 s with the floor, 73.2 and 75.2 s
    /// without.
    /// </summary>
    public const long MinHeadRows = 128;

    /// <summary>Positions per slice of logits that the head computes slice by slice on <paramref name="device"/>, where
    /// this process has huge pages or not (<see cref="HugePages.InThisProcess"/>).</summary>
    public static long HeadRows(DeviceType device, long vocab, bool hugePages) =>
        device == DeviceType.CPU && !hugePages ? Rows(CpuBytes, vocab) : Math.Max(Rows(Bytes(device), vocab), MinHeadRows);

    /// <summary>Positions per slice of logits that the head computes slice by slice on <paramref name="device"/> in this
    /// process.</summary>
    public static long HeadRows(DeviceType device, long vocab) => HeadRows(device, vocab, HugePages.InThisProcess);

    /// <summary>Positions per slice of <paramref name="sliceBytes"/> float32 bytes where a caller sets them, else
    /// <see cref="HeadRows(DeviceType, long)"/>.</summary>
    public static long HeadRows(DeviceType device, long vocab, long? sliceBytes) =>
        sliceBytes is { } bytes ? Rows(bytes, vocab) : HeadRows(device, vocab);

    /// <summary>Positions per slice of <paramref name="bytes"/> float32 bytes over <paramref name="vocab"/> columns.</summary>
    public static long Rows(long bytes, long vocab) => Math.Clamp(bytes / (vocab * 4), 1, MaxRows);
}
