using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Puzzle.Engine.Checkpoints;
using TorchSharp;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// Makes TorchSharp's native library loadable before anything touches torch, and turns a load failure into an
/// actionable message (TorchSharp's own blames a missing libtorch package even when libstdc++ is the cause).
/// </summary>
public static partial class TorchRuntime
{
    /// <summary>GCC 13's libstdc++ version, required by TorchSharp 0.107 but bound to no used symbol.</summary>
    public const string UnneededGlibcxx = "GLIBCXX_3.4.32";
    static readonly object Gate = new();
    static volatile bool _ready;
    static int? _threads;
    static volatile int _requested;

    /// <summary>The variable with which a launcher tells a job process that its standard input carries thread counts
    /// (<see cref="ListenForThreads"/>).</summary>
    public const string ThreadsInputVariable = "PUZZLE_THREADS_INPUT";

#pragma warning disable CA2255 // must run before any TorchSharp type loads its natives, in apps and test hosts alike
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void OnLoad()
    {
        MallocTuning.Apply();
        try { PatchNativeLibraries(AppContext.BaseDirectory); }
        catch (Exception) { /* reported with context by EnsureLoaded */ }
    }

    /// <summary>Patches every libLibTorchSharp.so under <paramref name="baseDirectory"/>; returns the files changed.</summary>
    public static IReadOnlyList<string> PatchNativeLibraries(string baseDirectory)
    {
        var changed = new List<string>();
        if (!OperatingSystem.IsLinux()) return changed;
        foreach (var path in new[] { Path.Combine(baseDirectory, "libLibTorchSharp.so"),
                     Path.Combine(baseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so") })
        {
            if (!File.Exists(path)) continue;
            var bytes = File.ReadAllBytes(path);
            if (ElfVersionPatch.MakeWeak(bytes, n => n == UnneededGlibcxx) == 0) continue;
            AtomicFile.Write(path, temp => File.WriteAllBytes(temp, bytes)); // a concurrent loader sees the old or the new file
            changed.Add(path);
        }
        return changed;
    }

    /// <summary>Whether libtorch has been loaded through <see cref="EnsureLoaded"/> in this process.</summary>
    public static bool IsLoaded { get { lock (Gate) return _ready; } }

    /// <summary>
    /// The thread count torch gets: now if libtorch is loaded, else when <see cref="EnsureLoaded"/> first loads it. A job
    /// process calls this instead of loading libtorch (about half a second) for a stage that uses no tensors.
    /// </summary>
    public static void UseThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        lock (Gate)
        {
            _threads = threads;
            if (_ready) SetThreads(threads);
        }
    }

    /// <summary>Loads libtorch and sets the thread count (<paramref name="threads"/>, else the one <see cref="UseThreads"/>
    /// deferred); throws with a remedy when the natives cannot load.</summary>
    public static void EnsureLoaded(int? threads = null)
    {
        lock (Gate)
        {
            if (!_ready)
            {
                try { _ = torch.zeros(1); }
                catch (Exception e)
                {
                    throw new InvalidOperationException(
                        "TorchSharp's native library could not be loaded. On Linux it needs libtorch: next to the app (builds with " +
                        "-p:PuzzleTorch=cpu, the default, or -p:PuzzleTorch=cuda), or for a -p:PuzzleTorch=external build a PyTorch " +
                        "install's torch/lib (and, for CUDA, its nvidia/*/lib) on LD_LIBRARY_PATH; and a libstdc++ that provides " +
                        $"GLIBCXX_3.4.30 or newer ({UnneededGlibcxx} is patched to weak at start-up; if the app folder is read-only, " +
                        "run it once from a writable copy or install GCC 13's libstdc++). See the README's \"GPU\" section. Cause: " +
                        Innermost(e).Message, e);
                }
                _ready = true;
                if (threads is null && _threads is { } deferred) SetThreads(deferred);
            }
            // process-wide: only the CLI's entry points pass a count, each in a process of one job (or one command)
            // before any torch work; jobs on InProcessJobLauncher's threads never set it, and share the process's count
            if (threads is > 0) SetThreads(threads.Value);
        }
    }

    /// <summary>
    /// Reads lines <c>threads N</c> from <paramref name="input"/> on a background thread until it ends, each a count the
    /// process's compute thread then takes at its next <see cref="FollowRequestedThreads"/>: how the local executor gives a
    /// job the cores a finished job left (a job started beside a short one keeps the half it was started with: the
    /// moby-2x library trained at 600 tokens/s on one thread for 11 minutes after the parent's evaluation, 27 s, had
    /// ended, against 1,055 on two). Anything else on the input is ignored. The launcher keeps the input open until the
    /// job has exited, so its end means the launcher is gone (a <c>puzzle run</c> killed with SIGKILL, or by the
    /// out-of-memory killer): <paramref name="ended"/> is then called, and a job process stops rather than run on, its
    /// log going nowhere, holding its key's lock and the cores or GPU the next run wants.
    /// </summary>
    public static void ListenForThreads(TextReader input, Action? ended = null)
    {
        var reader = new Thread(() =>
        {
            try
            {
                while (input.ReadLine() is { } line)
                    if (line.StartsWith("threads ", StringComparison.Ordinal) && int.TryParse(line.AsSpan(8), out var n) && n > 0) _requested = n;
            }
            catch (IOException) { /* the launcher went away */ }
            ended?.Invoke();
        })
        { IsBackground = true, Name = "puzzle-threads" };
        reader.Start();
    }

    /// <summary>Takes the thread count the launcher asked for last (<see cref="ListenForThreads"/>), where it differs from the
    /// calling thread's: call it on the thread that computes (progress lines do), since the count is the calling thread's
    /// for OpenMP and oneMKL. Cheap when nothing was asked.</summary>
    public static void FollowRequestedThreads()
    {
        var n = _requested;
        if (n > 0 && _ready && torch.get_num_threads() != n) torch.set_num_threads(n);
    }

    /// <summary>
    /// Gives torch <paramref name="threads"/> threads, and returns whether that took a call: none where it has them
    /// already (a job process is started with OMP_NUM_THREADS at its count). On the CPU <c>torch.set_num_threads</c> also
    /// fixes oneMKL's thread count for the calling thread, so every matrix product then runs on all threads however
    /// small it is; left alone, oneMKL chooses. Setting the count a process already had made the example parent train
    /// at 5,369-6,024 tokens/s against 6,394-6,514 left alone, and its scenario time 205-227 ms against 169-175 ms, the
    /// attention-only models slower still (<c>Puzzle.Benchmarks threads</c>); the parent job's weights came out byte for
    /// byte the same.
    /// </summary>
    internal static bool SetThreads(int threads)
    {
        if (torch.get_num_threads() == threads) return false;
        torch.set_num_threads(threads);
        return true;
    }

    static Exception Innermost(Exception e) { while (e.InnerException != null) e = e.InnerException; return e; }

    /// <summary>
    /// Ends this process at once with <paramref name="code"/>, from any thread: no finalizers or exit handlers, which
    /// race the compute thread still inside libtorch (<see cref="Environment.Exit"/> from the thread that saw the
    /// launcher go crashed with SIGSEGV, exit 139, in one of three CI runs). Open files and locks go with the process.
    /// </summary>
    public static void ExitNow(int code)
    {
        if (!OperatingSystem.IsWindows()) ImmediateExit(code);
        Environment.Exit(code);
    }

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void ImmediateExit(int status);
}
