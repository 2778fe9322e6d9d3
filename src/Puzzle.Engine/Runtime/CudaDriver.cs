using System.Runtime.InteropServices;
using System.Text;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// The CUDA driver API (libcuda, installed with the NVIDIA driver, stable across CUDA versions), for what TorchSharp
/// 0.107 does not expose: device memory and name, and stream capture into CUDA graphs. Every call returns a CUresult
/// (0 is success); <see cref="Check"/> turns one into an exception naming the call.
/// </summary>
internal static class CudaDriver
{
    const string Lib = "libcuda.so.1";

    /// <summary>CU_STREAM_CAPTURE_MODE_RELAXED: the capture does not forbid calls such as cudaMalloc on other threads
    /// or in the caching allocator, which does not know of a capture it did not start.</summary>
    public const int CaptureModeRelaxed = 2;

    [DllImport(Lib)] public static extern int cuInit(uint flags);
    [DllImport(Lib)] public static extern int cuDeviceGet(out int device, int ordinal);
    [DllImport(Lib)] public static extern int cuDeviceGetName(byte[] name, int length, int device);
    [DllImport(Lib)] public static extern int cuDeviceGetPCIBusId(byte[] pciBusId, int length, int device);
    [DllImport(Lib)] public static extern int cuDevicePrimaryCtxRetain(out IntPtr context, int device);
    [DllImport(Lib)] public static extern int cuDevicePrimaryCtxRelease_v2(int device);
    [DllImport(Lib)] public static extern int cuCtxSetCurrent(IntPtr context);
    [DllImport(Lib)] public static extern int cuCtxGetCurrent(out IntPtr context);
    [DllImport(Lib)] public static extern int cuMemGetInfo_v2(out ulong free, out ulong total);
    [DllImport(Lib)] public static extern int cuDeviceTotalMem_v2(out ulong bytes, int device);
    [DllImport(Lib)] public static extern int cuStreamBeginCapture_v2(IntPtr stream, int mode);
    [DllImport(Lib)] public static extern int cuStreamEndCapture(IntPtr stream, out IntPtr graph);
    [DllImport(Lib)] public static extern int cuGraphInstantiateWithFlags(out IntPtr exec, IntPtr graph, ulong flags);
    [DllImport(Lib)] public static extern int cuGraphLaunch(IntPtr exec, IntPtr stream);
    [DllImport(Lib)] public static extern int cuGraphExecDestroy(IntPtr exec);
    [DllImport(Lib)] public static extern int cuGraphDestroy(IntPtr graph);
    [DllImport(Lib)] public static extern int cuGraphGetNodes(IntPtr graph, IntPtr nodes, ref nuint count);
    [DllImport(Lib)] public static extern int cuGetErrorName(int error, out IntPtr name);

    /// <summary>Throws unless <paramref name="result"/> is CUDA_SUCCESS, naming <paramref name="call"/> and the error.</summary>
    public static void Check(int result, string call)
    {
        if (result != 0) throw new InvalidOperationException($"{call} failed: {ErrorName(result)}");
    }

    /// <summary>The driver's name for a CUresult, such as CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED.</summary>
    public static string ErrorName(int result) =>
        cuGetErrorName(result, out var name) == 0 && name != IntPtr.Zero ? Marshal.PtrToStringAnsi(name) ?? $"error {result}" : $"error {result}";

    /// <summary>GPU 0's name as the driver gives it (<c>NVIDIA H200</c>), or null without a driver or a GPU.</summary>
    public static string? DeviceName()
    {
        try
        {
            var buffer = new byte[256];
            if (cuInit(0) != 0 || cuDeviceGet(out var device, 0) != 0 || cuDeviceGetName(buffer, buffer.Length, device) != 0) return null;
            var end = Array.IndexOf(buffer, (byte)0);
            return Encoding.ASCII.GetString(buffer, 0, end < 0 ? buffer.Length : end);
        }
        catch (Exception e) when (IsMissing(e)) { return null; }
    }

    /// <summary>Whether an exception from a call says the driver library or an entry point is not there.</summary>
    public static bool IsMissing(Exception e) => e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException;
}
