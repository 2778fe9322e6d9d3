namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// The GPUs a local run may use, one job on each at a time: a job gets a GPU's id for its <c>CUDA_VISIBLE_DEVICES</c>
/// (the job then sees one device, its device 0) and gives it back when it ends.
/// </summary>
public sealed class GpuSlots
{
    readonly Queue<string> _free;

    /// <param name="ids">the GPU ids to hand out, as CUDA_VISIBLE_DEVICES names them</param>
    public GpuSlots(IEnumerable<string> ids) => _free = new Queue<string>(ids);

    public int Free => _free.Count;

    /// <summary>The first <paramref name="count"/> of the GPUs this process sees (<c>executor.gpus</c>), or all of them.</summary>
    public static GpuSlots Visible(int? count = null)
    {
        var ids = VisibleIds();
        return new GpuSlots(count is { } n ? ids.Take(n) : ids);
    }

    /// <summary>CUDA_VISIBLE_DEVICES where it is set, else the driver's devices (/proc/driver/nvidia/gpus), else none.</summary>
    public static IReadOnlyList<string> VisibleIds()
    {
        if (Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is { } visible)
            return visible.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .TakeWhile(id => id != "-1").ToList();
        const string driver = "/proc/driver/nvidia/gpus";
        return Directory.Exists(driver)
            ? Enumerable.Range(0, Directory.GetDirectories(driver).Length).Select(i => i.ToString()).ToList()
            : [];
    }

    public bool TryTake(out string id) => _free.TryDequeue(out id!);

    public void Return(string id) => _free.Enqueue(id);
}
