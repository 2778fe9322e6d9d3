using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// CUDA graphs for TorchSharp 0.107, which has no graph API: libtorch's work on a stream of its pool, made current on
/// this thread through c10's stream functions (what torch.cuda.stream does), is recorded by the CUDA driver's stream
/// capture and replayed as one launch, as a serving runtime replays its decode steps. A graph replays the captured
/// kernels on the captured memory: inputs are refilled in place, and what the capture allocated and freed is reused
/// by whatever libtorch allocates next (the caching allocator does not know of a capture it did not start), so a
/// graph is replayed only until the next allocation that matters, as timing does. Capture is relaxed: libtorch may
/// grow its memory pool (cudaMalloc) while capturing.
/// </summary>
public static class CudaGraphs
{
    /// <summary>Why CUDA graphs cannot run in this process on <paramref name="device"/>, or null when they can: the
    /// symbols resolve and, with <paramref name="replay"/> (once per process; it makes a CUDA context, which a process
    /// that only launches jobs need not hold), a pool stream becomes current and back and a captured graph replays
    /// correctly.</summary>
    public static string? Unavailable(ComputeDevice device, bool replay = true)
    {
        if (!device.IsCuda) return $"CUDA graphs need a CUDA device; this one is {device}";
        return replay ? Probe.Value : Symbols.Value;
    }

    static readonly Lazy<string?> Symbols = new(() =>
    {
        try
        {
            C10.Load();
            CudaDriver.cuGetErrorName(0, out _);
            return null;
        }
        catch (Exception e) when (e is InvalidOperationException || CudaDriver.IsMissing(e))
        {
            return e.Message;
        }
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Throws, naming <paramref name="askedBy"/>, unless <see cref="Unavailable"/> is null.</summary>
    public static void Require(ComputeDevice device, string askedBy)
    {
        if (Unavailable(device) is { } why)
            throw new InvalidOperationException($"{askedBy}: cuda_graphs cannot run here: {why}. Use eager (the default) instead.");
    }

    static readonly Lazy<string?> Probe = new(() =>
    {
        try
        {
            C10.Load();
            SelfCheck();
            return null;
        }
        catch (Exception e) // whatever failed (libtorch's errors come as ExternalException), graphs are not to be relied on
        {
            return e is InvalidOperationException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        }
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Captures y = x·2 + 1, refills x, replays and compares: a graph that replays stale or no work fails here,
    /// before any timing rests on it.</summary>
    static void SelfCheck()
    {
        using var side = OnSideStream();
        using var scope = NewDisposeScope();
        var x = arange(0, 1024, dtype: float32, device: CUDA);
        _ = x * 2 + 1; // kernels loaded outside the capture
        Tensor? captured = null; // held by this scope: the graph writes into it
        using var graph = Capture(() => captured = x * 2 + 1);
        x.copy_(arange(1024, 2048, dtype: float32, device: CUDA));
        graph.Replay();
        cuda.synchronize();
        var want = arange(1024, 2048, dtype: float32, device: CUDA) * 2 + 1;
        if (captured is null || !captured.eq(want).all().item<bool>())
            throw new InvalidOperationException("a captured graph replayed wrong values (y = x·2 + 1 after x was refilled)");
    }

    /// <summary>
    /// Makes a stream of libtorch's pool this thread's current CUDA stream until disposed, after the device has finished
    /// what was queued before (a capture needs a stream other than the default one, and work done ahead of a capture, on
    /// the same stream, sets up what the capture must not: cuBLAS workspaces, lazily loaded kernels). A thread gets the
    /// same stream every time: libtorch's caching allocator reuses a freed block only for the stream it was freed on, and
    /// the pool hands out its 32 streams in turn, so with a new one for every timing each kept a cache of its own of a
    /// scenario's activations: on an H200 (2026-12-04) the 1B shape's Measure job peaked at 54 GB of GPU memory and Speed
    /// at 59 GB, where eager timing, on the default stream, peaked at 10.6 GB (2026-11-29).
    /// </summary>
    public static IDisposable OnSideStream()
    {
        C10.Load();
        cuda.synchronize();
        var before = C10.Current();
        var side = _side ??= C10.FromPool();
        if ((side.Word0 & 0xff) != 1) // c10::DeviceType::CUDA
            throw new InvalidOperationException($"c10::cuda::getStreamFromPool returned a stream of device type {side.Word0 & 0xff}, not CUDA (1): libc10_cuda's ABI differs from the one assumed");
        C10.SetCurrent(side);
        var now = C10.Current();
        if (now.Id != side.Id || C10.Raw(now) == IntPtr.Zero)
        {
            C10.SetCurrent(before);
            throw new InvalidOperationException("the pool stream did not become current (c10::cuda::setCurrentCUDAStream): libc10_cuda's ABI differs from the one assumed");
        }
        return new Restore(before);
    }

    /// <summary>This thread's side stream (<see cref="OnSideStream"/>); the current stream is per thread in c10 too.</summary>
    [ThreadStatic] static C10.Stream? _side;

    sealed class Restore(C10.Stream before) : IDisposable
    {
        bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            cuda.synchronize();
            C10.SetCurrent(before);
        }
    }

    /// <summary>Records what <paramref name="work"/> launches on the current stream (made by <see cref="OnSideStream"/>)
    /// into a graph, without running it.</summary>
    public static Graph Capture(Action work)
    {
        var stream = C10.Raw(C10.Current());
        if (stream == IntPtr.Zero) throw new InvalidOperationException("capture needs a stream of libtorch's pool current (CudaGraphs.OnSideStream)");
        EnsureContext();
        CudaDriver.Check(CudaDriver.cuStreamBeginCapture_v2(stream, CudaDriver.CaptureModeRelaxed), "cuStreamBeginCapture");
        IntPtr graph;
        try { work(); }
        catch
        {
            CudaDriver.cuStreamEndCapture(stream, out graph);
            if (graph != IntPtr.Zero) CudaDriver.cuGraphDestroy(graph);
            throw;
        }
        CudaDriver.Check(CudaDriver.cuStreamEndCapture(stream, out graph), "cuStreamEndCapture");
        try
        {
            CudaDriver.Check(CudaDriver.cuGraphInstantiateWithFlags(out var exec, graph, 0), "cuGraphInstantiateWithFlags");
            nuint nodes = 0;
            CudaDriver.Check(CudaDriver.cuGraphGetNodes(graph, IntPtr.Zero, ref nodes), "cuGraphGetNodes");
            if (nodes == 0)
            {
                CudaDriver.cuGraphExecDestroy(exec);
                // the work ran eagerly on another stream instead of being recorded: a replay would time nothing
                throw new InvalidOperationException("a capture recorded no work: libtorch did not launch on the capturing stream");
            }
            return new Graph(exec, stream);
        }
        finally { CudaDriver.cuGraphDestroy(graph); }
    }

    /// <summary>libtorch made the device's primary context current on the threads it ran on; a thread that only replays
    /// gets it here.</summary>
    static void EnsureContext()
    {
        if (CudaDriver.cuCtxGetCurrent(out var context) == 0 && context != IntPtr.Zero) return;
        CudaDriver.Check(CudaDriver.cuDeviceGet(out var device, 0), "cuDeviceGet");
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(out context, device), "cuDevicePrimaryCtxRetain");
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /// <summary>A captured, instantiated graph: <see cref="Replay"/> launches all of its work at once on the stream it
    /// was captured on.</summary>
    public sealed class Graph : IDisposable
    {
        IntPtr _exec;
        readonly IntPtr _stream;

        internal Graph(IntPtr exec, IntPtr stream) => (_exec, _stream) = (exec, stream);

        public void Replay()
        {
            ObjectDisposedException.ThrowIf(_exec == IntPtr.Zero, this);
            CudaDriver.Check(CudaDriver.cuGraphLaunch(_exec, _stream), "cuGraphLaunch");
        }

        public void Dispose()
        {
            if (_exec == IntPtr.Zero) return;
            CudaDriver.cuGraphExecDestroy(_exec);
            _exec = IntPtr.Zero;
        }
    }

    /// <summary>
    /// c10's CUDA stream functions, found by their Itanium-mangled names in libc10_cuda (loaded with libtorch's CUDA
    /// libraries). A c10::cuda::CUDAStream is a trivially copyable c10::Stream of 16 bytes (Device: type and index, one
    /// byte each; StreamId: int64 at offset 8), so on x86-64 it passes and returns in two registers.
    /// </summary>
    static unsafe class C10
    {
        [StructLayout(LayoutKind.Sequential)]
        public struct Stream
        {
            public long Word0; // byte 0: DeviceType, byte 1: DeviceIndex
            public long Id;
        }

        static delegate* unmanaged<byte, sbyte, Stream> _fromPool;
        static delegate* unmanaged<Stream, void> _setCurrent;
        static delegate* unmanaged<sbyte, Stream> _current;
        static delegate* unmanaged<Stream*, IntPtr> _raw;
        static readonly object Gate = new();

        public static void Load()
        {
            lock (Gate)
            {
                if (_raw is not null) return;
                var lib = Library();
                _fromPool = (delegate* unmanaged<byte, sbyte, Stream>)Export(lib, "_ZN3c104cuda17getStreamFromPoolEba", "c10::cuda::getStreamFromPool(bool, DeviceIndex)");
                _setCurrent = (delegate* unmanaged<Stream, void>)Export(lib, "_ZN3c104cuda20setCurrentCUDAStreamENS0_10CUDAStreamE", "c10::cuda::setCurrentCUDAStream(CUDAStream)");
                _current = (delegate* unmanaged<sbyte, Stream>)Export(lib, "_ZN3c104cuda20getCurrentCUDAStreamEa", "c10::cuda::getCurrentCUDAStream(DeviceIndex)");
                _raw = (delegate* unmanaged<Stream*, IntPtr>)Export(lib, "_ZNK3c104cuda10CUDAStream6streamEv", "c10::cuda::CUDAStream::stream()");
            }
        }

        static IntPtr Library()
        {
            foreach (var name in new[] { "libc10_cuda.so" })
            {
                if (NativeLibrary.TryLoad(name, out var handle)) return handle;
                if (NativeLibrary.TryLoad(name, typeof(CudaGraphs).Assembly, DllImportSearchPath.AssemblyDirectory | DllImportSearchPath.SafeDirectories, out handle)) return handle;
            }
            throw new InvalidOperationException("libc10_cuda.so (libtorch's CUDA runtime support) was not found: a CUDA libtorch must be loaded");
        }

        static IntPtr Export(IntPtr lib, string symbol, string what) =>
            NativeLibrary.TryGetExport(lib, symbol, out var address) ? address
                : throw new InvalidOperationException($"libc10_cuda.so exports no {what} ({symbol}): this libtorch's ABI is not the one assumed");

        public static Stream FromPool() => _fromPool(0, -1);
        public static void SetCurrent(Stream stream) => _setCurrent(stream);
        public static Stream Current() => _current(-1);
        public static IntPtr Raw(Stream stream) => _raw(&stream);
    }
}
