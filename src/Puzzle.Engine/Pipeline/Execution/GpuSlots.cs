namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// The GPUs a local run may use, a number of jobs on each at a time (one, unless <c>executor.jobs_per_gpu</c> says
/// more): a job gets a GPU's id for its <c>CUDA_VISIBLE_DEVICES</c> (the job then sees one device, its device 0) and
/// gives it back when it ends. Jobs go to the GPU with the fewest first. A job may take a GPU alone (one planned to
/// hold more than its share of the GPU's memory): only an idle one, which then takes no other job until it ends; GPUs
/// kept for such jobs while they wait (<see cref="Reserve"/>) take no new job, so that they empty.
/// </summary>
public sealed class GpuSlots
{
    readonly List<string> _ids;
    readonly int[] _jobs; // jobs on each GPU now
    readonly bool[] _alone; // held by one job alone
    readonly List<int> _reserved = []; // kept empty for jobs waiting to run alone, in the order they were kept
    readonly int _perGpu;

    /// <param name="ids">the GPU ids to hand out, as CUDA_VISIBLE_DEVICES names them</param>
    /// <param name="jobsPerGpu">how many jobs may hold one GPU at once</param>
    public GpuSlots(IEnumerable<string> ids, int jobsPerGpu = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(jobsPerGpu, 1);
        _ids = ids.Distinct().ToList();
        _jobs = new int[_ids.Count];
        _alone = new bool[_ids.Count];
        _perGpu = jobsPerGpu;
    }

    /// <summary>How many jobs may hold one GPU at once.</summary>
    public int PerGpu => _perGpu;

    /// <summary>Jobs that could start on a GPU now.</summary>
    public int Free => Enumerable.Range(0, _ids.Count).Sum(i => _perGpu - Load(i));

    /// <summary>The places of GPU <paramref name="i"/> taken: all of them where a job holds it alone.</summary>
    int Load(int i) => _alone[i] ? _perGpu : _jobs[i];

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

    /// <summary>The GPU with the fewest jobs (the first such) among those not kept (<see cref="Reserve"/>), unless every
    /// such GPU has as many as it may; with <paramref name="alone"/>, an idle GPU (a kept one first), which then takes no
    /// other job until this one is returned.</summary>
    public bool TryTake(out string id, bool alone = false)
    {
        var best = -1;
        if (alone)
        {
            best = _reserved.FirstOrDefault(i => _jobs[i] == 0, -1);
            if (best < 0) best = Array.IndexOf(_jobs, 0);
            if (best >= 0)
            {
                _alone[best] = true;
                _reserved.Remove(best);
            }
        }
        else
            for (var i = 0; i < _ids.Count; i++)
                if (!_reserved.Contains(i) && Load(i) < _perGpu && (best < 0 || Load(i) < Load(best))) best = i;
        id = best < 0 ? null! : _ids[best];
        if (best >= 0) _jobs[best]++;
        return best >= 0;
    }

    /// <summary>Keeps <paramref name="count"/> GPUs (at most all of them) for jobs waiting to run alone: no new job
    /// starts on them, so that they empty. Those kept already stay kept; more are the least loaded.</summary>
    public void Reserve(int count)
    {
        count = Math.Min(count, _ids.Count);
        if (_reserved.Count > count) _reserved.RemoveRange(count, _reserved.Count - count);
        while (_reserved.Count < count)
            _reserved.Add(Enumerable.Range(0, _ids.Count).Where(i => !_reserved.Contains(i)).MinBy(Load));
    }

    public void Return(string id)
    {
        var i = _ids.IndexOf(id);
        if (i < 0 || _jobs[i] == 0) throw new InvalidOperationException($"GPU {id} was not handed out");
        _jobs[i]--;
        _alone[i] = false;
    }
}
