using System.Runtime.InteropServices;

namespace Puzzle.Engine.Runtime;

/// <summary>
/// NVML (libnvidia-ml, installed with the NVIDIA driver), for the one thing the CUDA driver API cannot tell: how much
/// of a GPU's memory one process holds, so that a job's peak is its own while another job shares its GPU
/// (<c>executor.jobs_per_gpu</c>). NVML names processes by the pids of the namespace the driver runs in, so inside a
/// container that has its own pids this process is not found, and nothing is read.
/// </summary>
internal static class Nvml
{
    const string Lib = "libnvidia-ml.so.1";

    /// <summary>nvmlProcessInfo_v2_t, what nvmlDeviceGetComputeRunningProcesses_v3 fills.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ProcessInfo
    {
        public uint Pid;
        public ulong UsedGpuMemory;
        public uint GpuInstanceId;
        public uint ComputeInstanceId;
    }

    /// <summary>NVML_VALUE_NOT_AVAILABLE: the driver does not know the process's memory (e.g. under WDDM).</summary>
    const ulong NotAvailable = ulong.MaxValue;
    const int Success = 0, InsufficientSize = 7;

    [DllImport(Lib)] static extern int nvmlInit_v2();
    [DllImport(Lib)] static extern int nvmlDeviceGetHandleByPciBusId_v2(byte[] pciBusId, out IntPtr device);
    [DllImport(Lib)] static extern int nvmlDeviceGetComputeRunningProcesses_v3(IntPtr device, ref uint count, [Out] ProcessInfo[]? infos);

    /// <summary>The NVML device of CUDA's device <paramref name="cudaDevice"/> (as CUDA_VISIBLE_DEVICES numbers it: NVML
    /// numbers every GPU, so the two meet by PCI bus id); null without NVML.</summary>
    public static IntPtr? Device(int cudaDevice)
    {
        try
        {
            var bus = new byte[64];
            if (CudaDriver.cuDeviceGetPCIBusId(bus, bus.Length, cudaDevice) != 0 || nvmlInit_v2() != Success) return null;
            return nvmlDeviceGetHandleByPciBusId_v2(bus, out var device) == Success ? device : null;
        }
        catch (Exception e) when (CudaDriver.IsMissing(e)) { return null; }
    }

    /// <summary>The device memory process <paramref name="pid"/> holds on <paramref name="device"/> now, in bytes; null
    /// when NVML does not list it (not started on the device yet, or pids of another namespace) or cannot say.</summary>
    public static long? ProcessBytes(IntPtr device, int pid)
    {
        var infos = new ProcessInfo[16];
        for (var tries = 0; tries < 4; tries++)
        {
            var count = (uint)infos.Length;
            var result = nvmlDeviceGetComputeRunningProcesses_v3(device, ref count, infos);
            if (result == InsufficientSize) { infos = new ProcessInfo[Math.Max(count + 8, (uint)infos.Length * 2)]; continue; }
            return result == Success ? Own(infos.AsSpan(0, (int)Math.Min(count, (uint)infos.Length)), pid) : null;
        }
        return null;
    }

    /// <summary>The memory of <paramref name="pid"/>'s entry in a process list; null when it has none, or its memory is
    /// not available.</summary>
    internal static long? Own(ReadOnlySpan<ProcessInfo> infos, int pid)
    {
        foreach (var info in infos)
            if (info.Pid == (uint)pid)
                return info.UsedGpuMemory == NotAvailable ? null : (long)info.UsedGpuMemory;
        return null;
    }
}
