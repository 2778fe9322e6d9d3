using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Runtime;

/// <summary>A job process is started at its thread count: setting it again would also fix oneMKL's count for the
/// thread (every matrix product on all threads), which made training and timings slower (<c>Puzzle.Benchmarks threads</c>).</summary>
[Collection(nameof(TorchThreadsCollection))]
public class TorchThreadCountTests
{
    [Fact]
    public void The_thread_count_is_set_only_where_it_differs()
    {
        Fixtures.Torch();
        var before = get_num_threads();
        var other = before == 1 ? 2 : 1;
        try
        {
            Assert.False(TorchRuntime.SetThreads(before));
            Assert.True(TorchRuntime.SetThreads(other));
            Assert.Equal(other, get_num_threads());
            Assert.False(TorchRuntime.SetThreads(other));
        }
        finally { set_num_threads(before); }
    }
}
