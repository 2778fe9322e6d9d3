extern alias Tasks;
using Job = Tasks::Puzzle.Tasks.WaveThreads.Job;
using WaveThreads = Tasks::Puzzle.Tasks.WaveThreads;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The MSBuild front end's threads: the jobs a pass of a wave runs at once share the cores.</summary>
public sealed class WaveThreadsTests
{
    static Job Lead(int wave = 0, bool runs = true) => new(wave, Companion: false, SingleThreaded: false, runs);
    static Job Companion(int wave = 0) => new(wave, Companion: true, SingleThreaded: false, Runs: true);
    static Job Single(int wave = 0) => new(wave, Companion: false, SingleThreaded: true, Runs: true);

    [Fact]
    public void A_lead_runs_before_its_companions_so_it_shares_the_cores_only_with_the_other_leads_of_its_wave()
    {
        // a Distill wave of one lead and five companions, then two Heal processes
        Job[] jobs = [Lead(), Companion(), Companion(), Companion(), Companion(), Companion(), Lead(1), Lead(1)];
        Assert.Equal([6, 1, 1, 1, 1, 1, 3, 3], WaveThreads.Of(jobs, cores: 6, nodes: 8, fixedThreads: 0));
    }

    [Fact]
    public void A_single_threaded_job_takes_one_core_and_a_job_MSBuild_skips_takes_none()
    {
        Assert.Equal([1, 5], WaveThreads.Of([Single(), Lead()], cores: 6, nodes: 8, fixedThreads: 0));
        Assert.Equal([6, 6], WaveThreads.Of([Lead(runs: false), Lead()], cores: 6, nodes: 8, fixedThreads: 0));
    }

    [Fact]
    public void Only_as_many_jobs_as_MSBuild_has_nodes_run_at_once()
    {
        Job[] four = [Lead(), Lead(), Lead(), Lead()];
        Assert.Equal([6, 6, 6, 6], WaveThreads.Of(four, cores: 6, nodes: 1, fixedThreads: 0)); // no -m: one at a time
        Assert.Equal([3, 3, 3, 3], WaveThreads.Of(four, cores: 6, nodes: 2, fixedThreads: 0));
        Assert.Equal([1, 1, 1, 1], WaveThreads.Of(four, cores: 2, nodes: 4, fixedThreads: 0)); // never none
        Assert.Equal([1, 6], WaveThreads.Of([Single(), Lead()], cores: 6, nodes: 1, fixedThreads: 0));
    }

    [Fact]
    public void A_fixed_count_is_every_jobs_but_a_single_threaded_ones()
    {
        Assert.Equal([4, 4, 1], WaveThreads.Of([Lead(), Companion(), Single()], cores: 6, nodes: 8, fixedThreads: 4));
    }
}
