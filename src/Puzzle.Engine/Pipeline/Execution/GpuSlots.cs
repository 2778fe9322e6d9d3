namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// The GPUs a local run may use, a number of jobs on each at a time (one, unless <c>executor.jobs_per_gpu</c> says
/// more): a job gets a GPU's id for its <c>CUDA_VISIBLE_DEVICES</c> (the job then sees one device, its device 0) and
/// gives it back when it ends. Jobs go to the GPU with the fewest first.
/// </summary>
public sealed class GpuSlots
{
    readonly List<string> _ids;
    readonly int[] _jobs; // jobs on each GPU now
    readonly int _perGpu;

    /// <param name="ids">the GPU ids to hand out, as CUDA_VISIBLE_DEVICES names them</param>
    /// <param name="jobsPerGpu">how many jobs may hold one GPU at once</param>
    public GpuSlots(IEnumerable<string> ids, int jobsPerGpu = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(jobsPerGpu, 1);
        _ids = ids.Distinct().ToList();
        _jobs = new int[_ids.Count];
        _perGpu = jobsPerGpu;
    }

    /// <summary>Jobs that could start on a GPU now.</summary>
    public int Free => _ids.Count * _perGpu - _jobs.Sum();

    /// <summary>The first <paramref name="count"/> of the GPUs this process sees (<c>executor.gpus</c>), or all of them,
    /// each for <paramref name="jobsPerGpu"/> jobs at once (<c>executor.jobs_per_gpu</c>).</summary>
    public static GpuSlots Visible(int? count = null, int jobsPerGpu = 1)
    {
        var ids = VisibleIds();
        return new GpuSlots(count is { } n ? ids.Take(n) : ids, jobsPerGpu);
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

    /// <summary>The GPU with the fewest jobs (the first such), unless every GPU has as many as it may.</summary>
    public bool TryTake(out string id)
    {
        var best = -1;
        for (var i = 0; i < _ids.Count; i++)
            if (_jobs[i] < _perGpu && (best < 0 || _jobs[i] < _jobs[best])) best = i;
        id = best < 0 ? null! : _ids[best];
        if (best >= 0) _jobs[best]++;
        return best >= 0;
    }

    public void Return(string id)
    {
        var i = _ids.IndexOf(id);
        if (i < 0 || _jobs[i] == 0) throw new InvalidOperationException($"GPU {id} was not handed out");
        _jobs[i]--;
    }
}
