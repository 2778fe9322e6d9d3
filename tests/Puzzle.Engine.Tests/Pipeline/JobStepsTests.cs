extern alias Tasks;
using Job = Tasks::Puzzle.Tasks.JobSteps.Job;
using JobSteps = Tasks::Puzzle.Tasks.JobSteps;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The MSBuild front end's steps: a wave's leads, then each lead planned above its share of memory alone, then
/// the companions, then each timing job alone; the jobs of a step share the cores.</summary>
public sealed class JobStepsTests
{
    static Job Lead(int wave = 0, bool runs = true) => new(wave, Companion: false, SingleThreaded: false, Exclusive: false, runs, null);
    static Job Companion(int wave = 0) => new(wave, Companion: true, SingleThreaded: false, Exclusive: false, Runs: true, null);
    static Job Single(int wave = 0) => new(wave, Companion: false, SingleThreaded: true, Exclusive: false, Runs: true, null);
    static Job Timing(int wave, int? firstReader) => new(wave, Companion: false, SingleThreaded: false, Exclusive: true, Runs: true, firstReader);

    static (string Step, int Threads)[] Of(Job[] jobs, int cores = 6, int nodes = 8, int fixedThreads = 0) =>
        JobSteps.Of(jobs, cores, nodes, fixedThreads).Select(s => (s.Step, s.Threads)).ToArray();

    [Fact]
    public void A_lead_runs_before_its_companions_and_shares_the_cores_only_with_the_other_leads_of_its_wave()
    {
        // a Distill wave of one lead and five companions, then two Heal processes
        Job[] jobs = [Lead(), Companion(), Companion(), Companion(), Companion(), Companion(), Lead(1), Lead(1)];
        Assert.Equal([("000.0.000", 6), ("000.2.000", 1), ("000.2.000", 1), ("000.2.000", 1), ("000.2.000", 1), ("000.2.000", 1),
            ("001.0.000", 3), ("001.0.000", 3)], Of(jobs));
    }

    [Fact]
    public void A_timing_job_runs_alone_on_every_core_after_the_last_wave_before_its_first_reader()
    {
        // Measure (no inputs, read by Search in wave 3), a Parent in wave 1, Speed (wave 4, read by nothing)
        Job[] jobs = [Timing(0, firstReader: 3), Lead(0), Lead(1), Timing(3, firstReader: 4), Timing(4, firstReader: null), Timing(4, firstReader: null)];
        var steps = Of(jobs, cores: 6, nodes: 8);
        Assert.Equal([("002.3.001", 6), ("000.0.000", 6), ("001.0.000", 6), ("003.3.001", 6), ("004.3.001", 6), ("004.3.002", 6)], steps);
        Assert.Equal(steps.Length, steps.Select(s => s.Step).Distinct().Count()); // each alone
        Assert.Equal(4, Of([Timing(0, 1)], fixedThreads: 4)[0].Threads);
    }

    [Fact]
    public void A_single_threaded_job_takes_one_core_and_a_job_MSBuild_skips_takes_none()
    {
        Assert.Equal([1, 5], Of([Single(), Lead()]).Select(s => s.Threads));
        Assert.Equal([6, 6], Of([Lead(runs: false), Lead()]).Select(s => s.Threads));
    }

    [Fact]
    public void Only_as_many_jobs_as_MSBuild_has_nodes_run_at_once()
    {
        Job[] four = [Lead(), Lead(), Lead(), Lead()];
        Assert.Equal([6, 6, 6, 6], Of(four, nodes: 1).Select(s => s.Threads)); // no -m: one at a time
        Assert.Equal([3, 3, 3, 3], Of(four, nodes: 2).Select(s => s.Threads));
        Assert.Equal([1, 1, 1, 1], Of(four, cores: 2, nodes: 4).Select(s => s.Threads)); // never none
        Assert.Equal([1, 6], Of([Single(), Lead()], nodes: 1).Select(s => s.Threads));
    }

    [Fact]
    public void Each_job_on_a_GPU_gets_one_and_those_beyond_the_GPUs_places_wait_for_a_step_of_their_own()
    {
        static Job OnGpu(bool companion = false) => new(0, companion, SingleThreaded: false, Exclusive: false, Runs: true, null, Gpu: true);
        // five Heal processes and a CPU job on two GPUs, one job each at a time: three steps of leads
        Job[] jobs = [OnGpu(), OnGpu(), Lead(), OnGpu(), OnGpu(), OnGpu()];
        var steps = JobSteps.Of(jobs, cores: 6, nodes: 8, fixedThreads: 0, gpus: ["3", "5"]);
        Assert.Equal([("000.0.000", "3"), ("000.0.000", "5"), ("000.0.000", null), ("000.0.001", "3"), ("000.0.001", "5"), ("000.0.002", "3")],
            steps.Select(s => (s.Step, s.Gpu)));
        Assert.Equal([2, 2, 2, 3, 3, 6], steps.Select(s => s.Threads)); // the cores shared in each step
        // two at a time on each: one step; a timing job on a GPU takes the first; no GPUs: none handed out, nothing waits
        Assert.Equal(["3", "5", "3", "5"], JobSteps.Of([OnGpu(), OnGpu(), OnGpu(), OnGpu()], 6, 8, 0, ["3", "5"], jobsPerGpu: 2).Select(s => s.Gpu));
        Assert.Equal("3", JobSteps.Of([Timing(0, null) with { Gpu = true }], 6, 8, 0, ["3", "5"])[0].Gpu);
        Assert.All(JobSteps.Of(jobs, 6, 8, 0, []), s => Assert.Equal(("000.0.000", null), (s.Step, s.Gpu)));
    }

    [Fact]
    public void A_fixed_count_is_every_jobs_but_a_single_threaded_ones()
    {
        Assert.Equal([4, 4, 1], Of([Lead(), Companion(), Single()], fixedThreads: 4).Select(s => s.Threads));
    }

    [Fact]
    public void A_lead_planned_above_its_share_of_this_machines_memory_runs_alone_on_every_core_before_the_companions()
    {
        const long gb = 1_000_000_000;
        static Job Planned(long bytes, int wave = 0) => Lead(wave) with { PlannedMemory = bytes, DeviceMemory = 90 * gb };
        // 90 GB for the jobs on this machine, four at once: 22.5 GB each
        Job[] jobs = [Planned(20 * gb), Planned(30 * gb), Companion(), Planned(40 * gb), Lead(), Planned(30 * gb, wave: 1)];
        var steps = JobSteps.Of(jobs, cores: 6, nodes: 4, fixedThreads: 0);
        Assert.Equal([("000.0.000", 3, false), ("000.1.001", 6, true), ("000.2.000", 6, false), ("000.1.002", 6, true),
            ("000.0.000", 3, false), ("001.1.001", 6, true)], steps.Select(s => (s.Step, s.Threads, s.Alone)));
        // one job at a time (no -m), or within its share: nothing alone
        Assert.All(JobSteps.Of(jobs, 6, nodes: 1, 0), s => Assert.False(s.Alone));
        Assert.All(JobSteps.Of(jobs, 6, nodes: 2, 0), s => Assert.False(s.Alone));
        // no figures (a stage that plans none, a device of unknown memory): nothing alone
        Assert.False(JobSteps.Of([Lead() with { PlannedMemory = 80 * gb }], 6, 4, 0)[0].Alone);
    }

    [Fact]
    public void A_GPU_job_planned_above_its_share_of_a_GPU_takes_an_idle_GPU_of_its_own_first()
    {
        const long gb = 1_000_000_000;
        static Job OnGpu(long bytes) => new(0, false, false, false, true, null, Gpu: true, PlannedMemory: bytes, DeviceMemory: 120 * gb);
        // two jobs to a GPU: 60 GB each; the large ones come last but take a GPU each first; the small ones share the GPU
        // the third leaves idle
        Job[] jobs = [OnGpu(10 * gb), OnGpu(10 * gb), OnGpu(70 * gb), OnGpu(80 * gb), OnGpu(70 * gb)];
        var steps = JobSteps.Of(jobs, cores: 6, nodes: 8, fixedThreads: 0, gpus: ["3", "5"], jobsPerGpu: 2);
        Assert.Equal([("000.0.001", "5", false), ("000.0.001", "5", false), ("000.0.000", "3", true), ("000.0.000", "5", true), ("000.0.001", "3", true)],
            steps.Select(s => (s.Step, s.Gpu, s.Alone)));
        // one job to a GPU: each has a GPU to itself anyway
        Assert.All(JobSteps.Of(jobs, 6, 8, 0, ["3", "5"], jobsPerGpu: 1), s => Assert.False(s.Alone));
    }
}
