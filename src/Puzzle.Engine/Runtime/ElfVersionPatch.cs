using System.Buffers.Binary;
using System.Text;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// Marks a required symbol version of an ELF64 shared library as weak (VER_FLG_WEAK), so the dynamic loader
/// accepts the library on a system whose libstdc++ lacks that version. TorchSharp 0.107's libLibTorchSharp.so
/// asks for GLIBCXX_3.4.32 (GCC 13) only for <c>std::ios_base_library_init</c>, which no relocation uses;
/// Debian 12 ships 3.4.30, so without this the library does not load there.
/// </summary>
public static class ElfVersionPatch
{
    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    /// <summary>Returns the names of the version requirements that are not yet weak.</summary>
    public static IReadOnlyList<string> StrongRequirements(byte[] elf, Func<string, bool> which)
    {
        var found = new List<string>();
        Visit(elf, (name, flagsOffset) =>
        {
            if (which(name) && (BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset)) & VerFlgWeak) == 0)
                found.Add(name);
        });
        return found;
    }

    /// <summary>Sets VER_FLG_WEAK on every version requirement whose name matches; returns how many changed.</summary>
    public static int MakeWeak(byte[] elf, Func<string, bool> which)
    {
        var changed = 0;
        Visit(elf, (name, flagsOffset) =>
        {
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(flagsOffset));
            if (!which(name) || (flags & VerFlgWeak) != 0) return;
            BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(flagsOffset), (ushort)(flags | VerFlgWeak));
            changed++;
        });
        return changed;
    }

    static void Visit(byte[] elf, Action<string, int> onRequirement)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not a little-endian ELF64 file");
        var span = elf.AsSpan();
        var shoff = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]));
        var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        var shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        for (var i = 0; i < shnum; i++)
        {
            var sh = span[(shoff + i * shentsize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            var offset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(sh[24..]));
            var link = BinaryPrimitives.ReadUInt32LittleEndian(sh[40..]);
            var count = BinaryPrimitives.ReadUInt32LittleEndian(sh[44..]);
            var strtab = span[(shoff + (int)link * shentsize)..];
            var strOffset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(strtab[24..]));
            var need = offset;
            for (var n = 0; n < count; n++)
            {
                var vnCnt = BinaryPrimitives.ReadUInt16LittleEndian(span[(need + 2)..]);
                var aux = need + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(need + 8)..]);
                for (var a = 0; a < vnCnt; a++)
                {
                    var nameOffset = strOffset + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(aux + 8)..]);
                    var end = Array.IndexOf(elf, (byte)0, nameOffset);
                    onRequirement(Encoding.ASCII.GetString(elf, nameOffset, end - nameOffset), aux + 4);
                    var next = BinaryPrimitives.ReadUInt32LittleEndian(span[(aux + 12)..]);
                    if (next == 0) break;
                    aux += (int)next;
                }
                var nextNeed = BinaryPrimitives.ReadUInt32LittleEndian(span[(need + 12)..]);
                if (nextNeed == 0) break;
                need += (int)nextNeed;
            }
        }
    }
}
