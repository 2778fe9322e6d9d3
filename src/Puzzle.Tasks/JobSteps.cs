using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Tasks;

/// <summary>
/// The order in which MSBuild runs a plan's jobs, as steps (one MSBuild call each; a step's jobs run side by side with
/// <c>-m</c>), and each job's torch threads. A wave's jobs (those whose inputs are all in earlier waves) run in up to
/// three kinds of step: its leads, each a process that builds its companions as well
/// (<see cref="GraphDocument.JobEntry.Lead"/>); then the companions, which find themselves built (started beside their
/// lead, one could take its own lock first and split the group); then each timing job
/// (<see cref="GraphDocument.StageEntry.Exclusive"/>) alone, on every core. A timing job waits for the last wave before
/// its first reader, as the local executor starts one only once no other job is ready: it times on a machine the run
/// has warmed, close in time to what reads it. The jobs of a step share the cores as the local executor shares them
/// (<see cref="GraphDocument.ThreadShare"/>), as many at once as MSBuild has nodes.
/// </summary>
public static class JobSteps
{
    /// <param name="Wave">the job's wave</param>
    /// <param name="Companion">whether another job's process builds it (it has a lead)</param>
    /// <param name="SingleThreaded">whether its stage computes on one thread</param>
    /// <param name="Exclusive">whether it times (runs with nothing beside it)</param>
    /// <param name="Runs">whether MSBuild will run it (its done marker is missing or older than its key stamp)</param>
    /// <param name="FirstReaderWave">the wave of the first job that reads it; null: none does</param>
    public readonly record struct Job(int Wave, bool Companion, bool SingleThreaded, bool Exclusive, bool Runs, int? FirstReaderWave);

    /// <param name="nodes">the jobs MSBuild runs at once (<c>-m</c>'s count, <c>$(MSBuildNodeCount)</c>)</param>
    /// <param name="fixedThreads">the threads of every job that is not single-threaded; 0: divide the cores</param>
    /// <returns>each job's step (steps sort in the order they run) and threads, in the order given</returns>
    public static (string Step, int Threads)[] Of(IReadOnlyList<Job> jobs, int cores, int nodes, int fixedThreads)
    {
        var lastWave = jobs.Count == 0 ? 0 : jobs.Max(j => j.Wave);
        var timings = new Dictionary<int, int>(); // timing steps in each wave so far
        var steps = new (int Wave, int Kind, int Index)[jobs.Count];
        for (var i = 0; i < jobs.Count; i++)
        {
            var job = jobs[i];
            if (!job.Exclusive) { steps[i] = (job.Wave, job.Companion ? 1 : 0, 0); continue; }
            var wave = job.FirstReaderWave is { } reader ? reader - 1 : lastWave;
            steps[i] = (wave, 2, timings[wave] = timings.GetValueOrDefault(wave) + 1);
        }

        var result = new (string Step, int Threads)[jobs.Count];
        foreach (var step in Enumerable.Range(0, jobs.Count).GroupBy(i => steps[i]))
        {
            var running = step.Where(i => jobs[i].Runs).ToList();
            var single = running.Count(i => jobs[i].SingleThreaded);
            var others = Math.Min(running.Count - single, Math.Max(1, nodes));
            var share = fixedThreads > 0 ? fixedThreads
                : step.Key.Kind == 2 ? cores
                : GraphDocument.ThreadShare(cores, Math.Min(single, Math.Max(0, nodes - others)), others);
            var name = $"{step.Key.Wave:D3}.{step.Key.Kind}.{step.Key.Index:D3}";
            foreach (var i in step) result[i] = (name, jobs[i].SingleThreaded ? 1 : share);
        }
        return result;
    }
}
