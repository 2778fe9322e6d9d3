using System.Globalization;

namespace Puzzle.Engine;

/// <summary>Sizes in bytes as people read them, for the store's reports and the training code's log lines alike
/// (domain code reads nothing of the pipeline, so the format lives here rather than in <c>StoreUsage</c>).</summary>
public static class ByteSize
{
    /// <summary>A size as people read it: 512 B, 1.5 KiB, 12.3 MiB, 4.20 GiB.</summary>
    public static string Human(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):F1} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):F2} GiB"),
    };
}
