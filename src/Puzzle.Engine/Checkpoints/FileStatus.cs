using System.Runtime.InteropServices;

namespace Puzzle.Engine.Checkpoints;

/// <summary>What Linux's <c>statx</c> says of a file that .NET does not: its inode, its names and its change time.</summary>
public static partial class FileStatus
{
    /// <summary>A file's identity on its filesystem, how many names it has, and when its inode last changed (nanoseconds
    /// since the epoch: any write, and any change of its times, names or mode, moves it; nothing can set it back).</summary>
    public readonly record struct FileId(ulong Device, ulong Inode, uint Links, long ChangeTime);

    /// <summary>The file's identity, or null where it cannot be read (not Linux, no statx, or the file is gone).</summary>
    public static FileId? Identify(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var buffer = new byte[StatxSize];
            if (Statx(AtCurrentDirectory, path, 0, StatxNlink | StatxIno | StatxCtime, buffer) != 0) return null;
            // struct statx: stx_nlink u32 at 16, stx_ino u64 at 32, stx_ctime (i64 seconds, u32 nanoseconds) at 96,
            // stx_dev_major and stx_dev_minor u32 at 136 and 140
            var span = buffer.AsSpan();
            var device = ((ulong)BitConverter.ToUInt32(span[136..]) << 32) | BitConverter.ToUInt32(span[140..]);
            var changed = BitConverter.ToInt64(span[96..]) * 1_000_000_000 + BitConverter.ToUInt32(span[104..]);
            return new FileId(device, BitConverter.ToUInt64(span[32..]), BitConverter.ToUInt32(span[16..]), changed);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    const int AtCurrentDirectory = -100, StatxSize = 256;
    const uint StatxNlink = 0x4, StatxCtime = 0x80, StatxIno = 0x100;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, [Out] byte[] buffer);
}
