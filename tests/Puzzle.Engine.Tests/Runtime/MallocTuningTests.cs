using System.Runtime.InteropServices;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Runtime;

/// <summary>
/// The Engine keeps glibc's malloc from serving tensors by fresh mmaps and from trimming its heap, so that a step
/// reuses the pages the previous one freed instead of faulting fresh ones in, and a timing does not depend on what
/// ran before it in the process.
/// </summary>
public class MallocTuningTests
{
    /// <summary>glibc's struct mallinfo2 (2.33 and later): every field a size_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo2
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    static extern MallInfo2 MallInfo();

    [Fact]
    public void A_tensor_below_32_MiB_comes_from_the_heap_not_from_a_fresh_mmap()
    {
        if (!OperatingSystem.IsLinux()) return;
        TorchRuntime.EnsureLoaded();
        Assert.True(MallocTuning.Applied, "the Engine's load should tune glibc's malloc on Linux");
        var before = MallInfo().Hblkhd; // bytes in mmapped chunks
        // 24 MiB: above glibc's default threshold (128 KiB, raised only by what the process happened to free before)
        using var t = empty(6L << 20, float32);
        t.fill_(1);
        var during = MallInfo().Hblkhd;
        Assert.True(during < before + (24UL << 20), $"a 24 MiB tensor was mmapped ({before} → {during} bytes in mmapped chunks)");
    }
}
