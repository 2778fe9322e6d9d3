using System.Runtime.InteropServices;
using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>
/// Hard links on Linux: the store keeps one copy of bytes that a job's output shares with one of its inputs (an
/// exported child's weights are its healed weights, byte for byte), and counts such a file once. Entries are never
/// written after they are published, so two entries may share a file's data. Elsewhere, or where the filesystem
/// refuses, nothing is linked and every file counts in full, as before.
/// </summary>
public static partial class HardLinks
{
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
            if (FileStatus.Identify(path) is not { Links: > 1 } id || _seen.Add((id.Device, id.Inode))) return length;
            Shared += length;
            return 0;
        }

        public long AddUnder(string folder)
        {
            try { return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(Add); }
            catch (DirectoryNotFoundException) { return 0; } // published or removed meanwhile by a concurrent run
        }
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string path);
}
