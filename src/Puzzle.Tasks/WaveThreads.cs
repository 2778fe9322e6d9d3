using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Tasks;

/// <summary>
/// The torch threads of each job MSBuild starts. The jobs of a wave start in two passes: the leads (each a process of its
/// own, building its companions as well: <see cref="GraphDocument.JobEntry.Lead"/>), then the companions, which find
/// themselves built. A pass runs as many jobs at once as MSBuild has nodes; those share the cores as the local executor
/// shares them (<see cref="GraphDocument.ThreadShare"/>).
/// </summary>
public static class WaveThreads
{
    /// <param name="Wave">the job's wave</param>
    /// <param name="Companion">whether another job's process builds it (it has a lead)</param>
    /// <param name="SingleThreaded">whether its stage computes on one thread</param>
    /// <param name="Runs">whether MSBuild will run it (its done marker is missing or older than its key stamp)</param>
    public readonly record struct Job(int Wave, bool Companion, bool SingleThreaded, bool Runs);

    /// <param name="nodes">the jobs MSBuild runs at once (<c>-m</c>'s count, <c>$(MSBuildNodeCount)</c>)</param>
    /// <param name="fixedThreads">the threads of every job that is not single-threaded; 0: divide the cores</param>
    /// <returns>each job's threads, in the order given</returns>
    public static int[] Of(IReadOnlyList<Job> jobs, int cores, int nodes, int fixedThreads)
    {
        var threads = new int[jobs.Count];
        foreach (var pass in Enumerable.Range(0, jobs.Count).GroupBy(i => (jobs[i].Wave, jobs[i].Companion)))
        {
            var running = pass.Where(i => jobs[i].Runs).ToList();
            var single = running.Count(i => jobs[i].SingleThreaded);
            var others = Math.Min(running.Count - single, Math.Max(1, nodes));
            var share = fixedThreads > 0 ? fixedThreads
                : GraphDocument.ThreadShare(cores, Math.Min(single, Math.Max(0, nodes - others)), others);
            foreach (var i in pass) threads[i] = jobs[i].SingleThreaded ? 1 : share;
        }
        return threads;
    }
}
