using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Tasks;

/// <summary>
/// The order in which MSBuild runs a plan's jobs, as steps (one MSBuild call each; a step's jobs run side by side with
/// <c>-m</c>), and each job's torch threads. A wave's jobs (those whose inputs are all in earlier waves) run in up to
/// four kinds of step: its leads, each a process that builds its companions as well
/// (<see cref="GraphDocument.JobEntry.Lead"/>); then each lead planned to hold more than its share of this machine's
/// memory (<see cref="GraphDocument.JobEntry.PlannedMemory"/> against <see cref="GraphDocument.StageEntry.DeviceMemory"/>
/// divided by the jobs MSBuild runs at once), alone, on every core; then the companions, which find themselves built
/// (started beside their lead, one could take its own lock first and split the group); then each timing job
/// (<see cref="GraphDocument.StageEntry.Exclusive"/>) alone, on every core. A timing job waits for the last wave before
/// its first reader, as the local executor starts one only once no other job is ready: it times on a machine the run
/// has warmed, close in time to what reads it. The jobs of a step share the cores as the local executor shares them
/// (<see cref="GraphDocument.ThreadShare"/>), as many at once as MSBuild has nodes. A job on a GPU gets one of the GPUs
/// (its <c>CUDA_VISIBLE_DEVICES</c>), as many jobs on each at a time as the local executor puts there
/// (<see cref="GpuSlots"/>), and one planned above its share of a GPU's memory an idle GPU of its own: leads or
/// companions beyond that wait for a step of their own.
/// </summary>
public static class JobSteps
{
    /// <param name="Wave">the job's wave</param>
    /// <param name="Companion">whether another job's process builds it (it has a lead)</param>
    /// <param name="SingleThreaded">whether its stage computes on one thread</param>
    /// <param name="Exclusive">whether it times (runs with nothing beside it)</param>
    /// <param name="Runs">whether MSBuild will run it (its done marker is missing or older than its key stamp)</param>
    /// <param name="FirstReaderWave">the wave of the first job that reads it; null: none does</param>
    /// <param name="Gpu">whether it computes on a GPU</param>
    /// <param name="PlannedMemory">the bytes its process is planned to hold (<see cref="GraphDocument.JobEntry.PlannedMemory"/>)</param>
    /// <param name="DeviceMemory">what the processes on its device may plan for together
    /// (<see cref="GraphDocument.StageEntry.DeviceMemory"/>)</param>
    public readonly record struct Job(int Wave, bool Companion, bool SingleThreaded, bool Exclusive, bool Runs, int? FirstReaderWave, bool Gpu = false,
        long? PlannedMemory = null, long? DeviceMemory = null)
    {
        /// <summary>Whether it is planned to hold more than its share of its device's memory where <paramref name="sharing"/>
        /// processes use that device at once (none where only one does).</summary>
        public bool AboveShare(int sharing) => sharing > 1 && PlannedMemory > DeviceMemory / sharing;
    }

    // the kinds of step in a wave, in the order they run
    const int Leads = 0, LeadsAlone = 1, Companions = 2, Timings = 3;

    /// <param name="nodes">the jobs MSBuild runs at once (<c>-m</c>'s count, <c>$(MSBuildNodeCount)</c>)</param>
    /// <param name="fixedThreads">the threads of every job that is not single-threaded; 0: divide the cores</param>
    /// <param name="gpus">the GPUs to hand out, as CUDA_VISIBLE_DEVICES names them (none: a job sees what MSBuild sees)</param>
    /// <param name="jobsPerGpu">jobs on one GPU at a time</param>
    /// <returns>each job's step (steps sort in the order they run), threads, GPU and whether it runs alone on its device
    /// for its planned memory, in the order given</returns>
    public static (string Step, int Threads, string? Gpu, bool Alone)[] Of(IReadOnlyList<Job> jobs, int cores, int nodes, int fixedThreads,
        IReadOnlyList<string>? gpus = null, int jobsPerGpu = 1)
    {
        gpus ??= [];
        var lastWave = jobs.Count == 0 ? 0 : jobs.Max(j => j.Wave);
        var timings = new Dictionary<int, int>(); // timing steps in each wave so far
        var onGpus = new Dictionary<(int, int), (GpuSlots Slots, int Step)>(); // the GPUs of each wave's leads, then companions
        var steps = new (int Wave, int Kind, int Index)[jobs.Count];
        var gpu = new string?[jobs.Count];
        var onItsOwn = new bool[jobs.Count]; // alone on its device for its planned memory
        var aloneSteps = new Dictionary<int, int>(); // steps of leads alone on this machine in each wave so far
        // jobs that need a GPU of their own take one first, as the executor starts them first
        foreach (var i in Enumerable.Range(0, jobs.Count).OrderBy(i => !(jobs[i].Gpu && jobs[i].AboveShare(jobsPerGpu))))
        {
            var job = jobs[i];
            if (job.Exclusive)
            {
                var wave = job.FirstReaderWave is { } reader ? reader - 1 : lastWave;
                steps[i] = (wave, Timings, timings[wave] = timings.GetValueOrDefault(wave) + 1);
                if (job.Gpu && gpus.Count > 0) gpu[i] = gpus[0];
                continue;
            }
            if (!job.Gpu && job.Runs && !job.Companion && job.AboveShare(nodes))
            {
                steps[i] = (job.Wave, LeadsAlone, aloneSteps[job.Wave] = aloneSteps.GetValueOrDefault(job.Wave) + 1);
                onItsOwn[i] = true;
                continue;
            }
            var kind = job.Companion ? Companions : Leads;
            steps[i] = (job.Wave, kind, 0);
            if (!job.Gpu || !job.Runs || gpus.Count == 0) continue;
            var own = onItsOwn[i] = job.AboveShare(jobsPerGpu);
            var (slots, step) = onGpus.TryGetValue((job.Wave, kind), out var taken) ? taken : (new GpuSlots(gpus, jobsPerGpu), 0);
            if (!slots.TryTake(out var id, own)) // every GPU holds as many as it may (or, for a job alone, none is idle): the next step
            {
                (slots, step) = (new GpuSlots(gpus, jobsPerGpu), step + 1);
                slots.TryTake(out id, own);
            }
            onGpus[(job.Wave, kind)] = (slots, step);
            (steps[i], gpu[i]) = ((job.Wave, kind, step), id);
        }

        var result = new (string Step, int Threads, string? Gpu, bool Alone)[jobs.Count];
        foreach (var step in Enumerable.Range(0, jobs.Count).GroupBy(i => steps[i]))
        {
            var running = step.Where(i => jobs[i].Runs).ToList();
            var single = running.Count(i => jobs[i].SingleThreaded);
            var others = Math.Min(running.Count - single, Math.Max(1, nodes));
            var share = fixedThreads > 0 ? fixedThreads
                : step.Key.Kind is Timings or LeadsAlone ? cores
                : GraphDocument.ThreadShare(cores, Math.Min(single, Math.Max(0, nodes - others)), others);
            var name = $"{step.Key.Wave:D3}.{step.Key.Kind}.{step.Key.Index:D3}";
            foreach (var i in step) result[i] = (name, jobs[i].SingleThreaded ? 1 : share, gpu[i], onItsOwn[i]);
        }
        return result;
    }
}
