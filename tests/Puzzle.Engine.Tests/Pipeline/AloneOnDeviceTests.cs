using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// A process estimated to hold more than its share of a shared device's memory runs alone on it (one Heal process of
/// an 8B parent's child needs most of a 141 GB GPU, and two such beside each other with <c>executor.jobs_per_gpu: 2</c>
/// would both run out): on a GPU, on an idle one, kept free of new jobs while it waits; on this machine, with nothing
/// beside it.
/// </summary>
public class AloneOnDeviceTests
{
    const long GiB = 1L << 30;

    static List<string> EventsOf(GatedLauncher launcher) => [.. launcher.Events];

    /// <summary>The micro spec on CUDA, two jobs at a time on a GPU: of a GPU of 100 GiB, a job's share is 45 GiB.</summary>
    static readonly string OneGpuSharedByTwo = TestRepo.MicroSpec.Replace("executor:\n  jobs: 2", "device: cuda\nexecutor:\n  jobs: 4\n  jobs_per_gpu: 2");

    /// <summary>An executor of <paramref name="stages"/> on one GPU ("0"), with a gated launcher and a console to read.</summary>
    static (GatedLauncher Launcher, StringWriter Console, LocalExecutor Executor, PipelineSession Session) OnOneGpu(TestRepo repo, Stage[] stages)
    {
        var session = PipelineSession.Open(repo.SpecPath, stages: stages);
        var launcher = new GatedLauncher(session);
        var console = new StringWriter();
        return (launcher, console, new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 4, threadsPerJob: 1,
            console: TextWriter.Synchronized(console), gpus: new GpuSlots(["0"], session.Spec.Executor.JobsPerGpu)), session);
    }

    static int At(List<string> events, string e) =>
        events.IndexOf(e) is var i and >= 0 ? i : throw new Xunit.Sdk.XunitException($"no '{e}' in {string.Join("; ", events)}");

    [Fact]
    public async Task A_job_over_its_share_of_a_gpu_waits_for_it_to_empty_and_nothing_starts_beside_it()
    {
        using var repo = new TestRepo(OneGpuSharedByTwo);
        // Big (60 GiB) becomes ready once Small1 ends, and waits for Small2 through two passes (Small1's end, then Host's)
        using var pretend = PlanMemory.Pretend(kind => kind == DeviceKind.Cuda ? 100 * GiB : null);
        var (launcher, console, executor, session) = OnOneGpu(repo, [new OneJobStage("Small1", [], device: DeviceKind.Cuda, planned: 10 * GiB),
            new OneJobStage("Small2", [], device: DeviceKind.Cuda, planned: 10 * GiB),
            new OneJobStage("Big", ["Small1"], device: DeviceKind.Cuda, planned: 60 * GiB),
            new OneJobStage("Small3", [], device: DeviceKind.Cuda, planned: 10 * GiB), new OneJobStage("Host", [])]); // Host uses no GPU

        var run = executor.RunAsync(session.Graph, null);
        await launcher.WaitFor("start Host/j 1");
        launcher.Release("Small1/j");
        await launcher.WaitFor("end Small1/j");
        // the pass after Small1 ended: Big cannot have the GPU alone yet, and Small3 may not take the place Small1 left
        await launcher.WaitFor("flush after 4");
        launcher.Release("Host/j");
        await launcher.WaitFor("flush after 5"); // a second pass while Big waits
        launcher.Release("Small2/j");
        await launcher.WaitFor("start Big/j 1 gpu 0");
        launcher.Release("Big/j");
        await launcher.WaitFor("start Small3/j 1 gpu 0");
        launcher.Release("Small3/j");
        Assert.True((await run).Succeeded);

        var events = EventsOf(launcher);
        Assert.Equal(["start Small1/j 1 gpu 0", "start Small2/j 1 gpu 0", "start Host/j 1", "end Small1/j", "end Host/j", "end Small2/j",
            "start Big/j 1 gpu 0", "end Big/j", "start Small3/j 1 gpu 0", "end Small3/j"], events);
        Assert.Contains("Big/j waits for a GPU to empty to run alone (about 60.00 GiB planned, more than a job's share of 45.00 GiB)", console.ToString());
        Assert.Single(console.ToString().Split('\n'), l => l.Contains("waits", StringComparison.Ordinal)); // said once, not at every pass
        Assert.Contains("Big/j (1 thread; alone on GPU 0: about 60.00 GiB planned, more than a job's share of 45.00 GiB)", console.ToString());
    }

    [Fact]
    public async Task A_job_within_its_share_of_a_gpu_shares_it_as_before()
    {
        using var repo = new TestRepo(OneGpuSharedByTwo);
        using var pretend = PlanMemory.Pretend(kind => kind == DeviceKind.Cuda ? 100 * GiB : null);
        var (launcher, console, executor, session) = OnOneGpu(repo,
            [new OneJobStage("A", [], device: DeviceKind.Cuda, planned: 40 * GiB), new OneJobStage("B", [], device: DeviceKind.Cuda, planned: 40 * GiB)]);

        var run = executor.RunAsync(session.Graph, null);
        await launcher.WaitFor("start A/j 1 gpu 0");
        await launcher.WaitFor("start B/j 1 gpu 0"); // both on the one GPU at once: 40 GiB each is within 45
        launcher.Release("A/j");
        launcher.Release("B/j");
        Assert.True((await run).Succeeded);
        Assert.DoesNotContain("alone", console.ToString());
    }

    [Fact]
    public async Task A_job_over_its_share_of_this_machine_runs_with_no_other_job_beside_it()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec); // executor.jobs: 2
        // 10 GiB shared by two jobs: 4.5 GiB each; Big (6 GiB) becomes ready once A ends, while B runs and C waits
        Stage[] stages = [new OneJobStage("A", [], device: DeviceKind.Cpu, planned: GiB), new OneJobStage("B", [], device: DeviceKind.Cpu, planned: GiB),
            new OneJobStage("Big", ["A"], device: DeviceKind.Cpu, planned: 6 * GiB), new OneJobStage("C", [], device: DeviceKind.Cpu, planned: GiB)];
        using var pretend = PlanMemory.Pretend(kind => kind == DeviceKind.Cpu ? 10 * GiB : null);
        var session = PipelineSession.Open(repo.SpecPath, stages: stages);
        Assert.Equal(2, session.Spec.Executor.Jobs);
        var launcher = new GatedLauncher(session);
        var console = new StringWriter();
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 2, threadsPerJob: null,
            console: TextWriter.Synchronized(console), cores: 4);

        var run = executor.RunAsync(session.Graph, null);
        await launcher.WaitFor("start B/j 2");
        launcher.Release("A/j");
        await launcher.WaitFor("end A/j");
        await launcher.WaitFor("flush after 3"); // Big waits for B, and C may not start beside B meanwhile
        launcher.Release("B/j");
        await launcher.WaitFor("start Big/j 4"); // alone: every core
        launcher.Release("Big/j");
        await launcher.WaitFor("start C/j 4");
        launcher.Release("C/j");
        Assert.True((await run).Succeeded);

        var events = EventsOf(launcher).Where(e => !e.StartsWith("threads", StringComparison.Ordinal)).ToList();
        Assert.Equal(["start A/j 2", "start B/j 2", "end A/j", "end B/j", "start Big/j 4", "end Big/j", "start C/j 4", "end C/j"], events);
        Assert.True(At(EventsOf(launcher), "start Big/j 4") > At(EventsOf(launcher), "end B/j"));
        Assert.Contains("Big/j waits for the jobs running to end to run alone (about 6.00 GiB planned", console.ToString());
        Assert.Contains("alone on this machine: about 6.00 GiB planned, more than a job's share of 4.50 GiB", console.ToString());
    }

    [Fact]
    public async Task Jobs_on_a_clusters_nodes_do_not_share_this_machines_memory_and_are_not_held_back()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Stage[] stages = [new OneJobStage("A", [], device: DeviceKind.Cpu, planned: GiB), new OneJobStage("B", [], device: DeviceKind.Cpu, planned: GiB),
            new OneJobStage("Big", ["A"], device: DeviceKind.Cpu, planned: 6 * GiB)];
        using var pretend = PlanMemory.Pretend(kind => kind == DeviceKind.Cpu ? 10 * GiB : null);
        var session = PipelineSession.Open(repo.SpecPath, stages: stages);
        var launcher = new GatedLauncher(session, onThisMachine: false);
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 2, threadsPerJob: 1, console: TextWriter.Null, cores: 4);

        var run = executor.RunAsync(session.Graph, null);
        await launcher.WaitFor("start B/j 1");
        launcher.Release("A/j");
        await launcher.WaitFor("start Big/j 1"); // beside B
        launcher.Release("B/j");
        launcher.Release("Big/j");
        Assert.True((await run).Succeeded);
        Assert.True(At(EventsOf(launcher), "start Big/j 1") < At(EventsOf(launcher), "end B/j"));
    }

    [Fact]
    public void A_gpu_taken_alone_takes_no_other_job_and_a_kept_one_takes_none_until_the_waiting_job_has_it()
    {
        var slots = new GpuSlots(["0", "1"], jobsPerGpu: 2);
        Assert.True(slots.TryTake(out var first));
        Assert.Equal("0", first);
        Assert.True(slots.TryTake(out var alone, alone: true));
        Assert.Equal("1", alone); // the idle one
        Assert.False(slots.TryTake(out _, alone: true)); // none idle now
        Assert.True(slots.TryTake(out var beside));
        Assert.Equal("0", beside); // GPU 1 is held alone, though it runs one job
        Assert.False(slots.TryTake(out _));
        Assert.Equal(0, slots.Free);

        // a job waits to run alone: the least loaded GPU is kept for it and takes no new job, though it has a free place
        slots.Return("0");
        slots.Reserve(1);
        Assert.False(slots.TryTake(out _));
        slots.Return("0");
        Assert.True(slots.TryTake(out var kept, alone: true));
        Assert.Equal("0", kept);
        slots.Reserve(0);
        slots.Return("1");
        Assert.True(slots.TryTake(out var next));
        Assert.Equal("1", next); // GPU 0 is held alone: GPU 1 is the one with room
        slots.Return("0");
        slots.Return("1");
        Assert.Equal(4, slots.Free);
    }
}
