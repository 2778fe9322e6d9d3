using System.Runtime.InteropServices;

namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>
/// Hard links on Linux: the store keeps one copy of bytes that a job's output shares with one of its inputs (an
/// exported child's weights are its healed weights, byte for byte), and counts such a file once. Entries are never
/// written after they are published, so two entries may share a file's data. Elsewhere, or where the filesystem
/// refuses, nothing is linked and every file counts in full, as before.
/// </summary>
public static partial class HardLinks
{
    /// <summary>A file's identity on its filesystem, how many names it has, and when its inode last changed (nanoseconds
    /// since the epoch: any write, and any change of its times, names or mode, moves it; nothing can set it back).</summary>
    public readonly record struct FileId(ulong Device, ulong Inode, uint Links, long ChangeTime);

    /// <summary>Replaces <paramref name="path"/> by a hard link to <paramref name="existing"/> (a rename of a link made
    /// beside it, so <paramref name="path"/> is never absent); false, with <paramref name="path"/> as it was, when no
    /// link can be made.</summary>
    public static bool TryReplace(string path, string existing)
    {
        if (!OperatingSystem.IsLinux()) return false;
        var beside = path + ".link-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            if (Link(existing, beside) != 0) return false;
            File.Move(beside, path, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or IOException or UnauthorizedAccessException)
        {
            try { File.Delete(beside); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            return false;
        }
    }

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

    /// <summary>Sizes of files counted once per file on disk, however many names (hard links) it has among those added.</summary>
    public sealed class Tally
    {
        readonly HashSet<(ulong, ulong)> _seen = [];

        /// <summary>The bytes of the further names of data already counted: what hard links saved.</summary>
        public long Shared { get; private set; }

        /// <summary>The file's size the first time its data is seen, else 0.</summary>
        public long Add(string path)
        {
            var length = StoreUsage.Length(path);
            if (Identify(path) is not { Links: > 1 } id || _seen.Add((id.Device, id.Inode))) return length;
            Shared += length;
            return 0;
        }

        public long AddUnder(string folder)
        {
            try { return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(Add); }
            catch (DirectoryNotFoundException) { return 0; } // published or removed meanwhile by a concurrent run
        }
    }

    const int AtCurrentDirectory = -100, StatxSize = 256;
    const uint StatxNlink = 0x4, StatxCtime = 0x80, StatxIno = 0x100;

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string path);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directory, string path, int flags, uint mask, [Out] byte[] buffer);
}
