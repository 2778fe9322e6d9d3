using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// The local executor divides the cores evenly among the jobs running: a job left running alone gets the cores of the
/// jobs that ended, and gives them back when another starts beside it (a library's process started beside the parent's
/// short evaluation otherwise trained on one thread of two for its whole 11 minutes).
/// </summary>
public class ThreadShareTests
{
    [Fact]
    public async Task A_job_left_running_alone_gets_the_freed_cores_and_gives_them_back_when_others_start()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        // Long, Short and Mid start together on 6 cores; Next1 and Next2 (after Mid) start beside Long and end before it
        Engine.Pipeline.Graph.Stage[] stages = [new OneJobStage("Long", []), new OneJobStage("Short", []), new OneJobStage("Mid", []),
            new OneJobStage("Next1", ["Mid"]), new OneJobStage("Next2", ["Mid"])];
        var (launcher, run, console) = Start(repo, stages, parallelJobs: 3, threadsPerJob: null, cores: 6);
        await launcher.WaitFor("start Mid/j 2");
        launcher.Release("Short/j");
        await launcher.WaitFor("threads Mid/j 3");
        launcher.Release("Mid/j");
        await launcher.WaitFor("start Next2/j 2");
        await launcher.WaitFor("threads Long/j 2");
        launcher.Release("Next1/j");
        launcher.Release("Next2/j");
        await launcher.WaitFor("threads Long/j 6");
        launcher.Release("Long/j");
        Assert.True((await run).Succeeded);

        var events = launcher.Events.ToList();
        int At(string e) => events.IndexOf(e) is var i and >= 0 ? i : throw new Xunit.Sdk.XunitException($"no '{e}' in {string.Join("; ", events)}");
        Assert.Equal(["start Long/j 2", "start Short/j 2", "start Mid/j 2", "end Short/j"], events.Take(4));
        // two jobs on 6 cores: 3 each; then three again: 2 each; then Long alone: all 6
        Assert.True(At("threads Long/j 3") > At("end Short/j") && At("threads Mid/j 3") > At("end Short/j"));
        Assert.True(At("start Next1/j 2") > At("end Mid/j") && At("threads Long/j 2") > At("start Next2/j 2"));
        Assert.True(At("threads Long/j 6") > Math.Max(At("end Next1/j"), At("end Next2/j")) && At("end Long/j") > At("threads Long/j 6"));
        Assert.Contains("Long/j now has 6 threads", console.ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_fixed_thread_count_is_never_changed_nor_that_of_a_job_without_tensors(bool fixedCount)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Engine.Pipeline.Graph.Stage[] stages = [new OneJobStage("Long", [], usesTorch: fixedCount), new OneJobStage("Short", [])];
        var (launcher, run, _) = Start(repo, stages, parallelJobs: 2, threadsPerJob: fixedCount ? 1 : null, cores: 2);
        await launcher.WaitFor("start Short/j 1");
        launcher.Release("Short/j");
        await launcher.WaitFor("end Short/j");
        await launcher.WaitFor("flush after 3"); // the pass after Short ended, where Long would have been given its cores
        launcher.Release("Long/j");
        Assert.True((await run).Succeeded);

        Assert.DoesNotContain(launcher.Events, e => e.StartsWith("threads", StringComparison.Ordinal));
    }

    /// <summary>A single-threaded job (Fetch, Report, Pack) takes one core, fixed count or not, and the jobs beside it
    /// share the others: on 6 cores, 1 for it and 2 + 3 for the others, then 5 for the one left beside it, then 6.</summary>
    [Fact]
    public async Task A_single_threaded_job_takes_one_core_and_the_others_share_the_rest()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Engine.Pipeline.Graph.Stage[] stages = [new OneJobStage("Long", []), new OneJobStage("Single", [], usesTorch: false, singleThreaded: true),
            new OneJobStage("Other", [])];
        var (launcher, run, console) = Start(repo, stages, parallelJobs: 3, threadsPerJob: null, cores: 6);
        await launcher.WaitFor("start Other/j 2");
        launcher.Release("Other/j");
        await launcher.WaitFor("threads Long/j 5");
        launcher.Release("Single/j");
        await launcher.WaitFor("threads Long/j 6");
        launcher.Release("Long/j");
        Assert.True((await run).Succeeded);

        Assert.Equal(["start Long/j 2", "start Single/j 1", "start Other/j 2"], launcher.Events.Take(3));
        Assert.DoesNotContain(launcher.Events, e => e.StartsWith("threads Single", StringComparison.Ordinal));
        Assert.Contains("run    Single/j (1 thread)", console.ToString());

        // a fixed count is every other job's, not a single-threaded one's
        using var fixedRepo = new TestRepo(TestRepo.MicroSpec);
        var (fixedLauncher, fixedRun, _) = Start(fixedRepo, stages, parallelJobs: 3, threadsPerJob: 4, cores: 6);
        await fixedLauncher.WaitFor("start Other/j 4");
        foreach (var job in new[] { "Long/j", "Single/j", "Other/j" }) fixedLauncher.Release(job);
        Assert.True((await fixedRun).Succeeded);
        Assert.Equal(["start Long/j 4", "start Single/j 1", "start Other/j 4"], fixedLauncher.Events.Take(3));
    }

    /// <summary>Starts a run of <paramref name="stages"/> in <paramref name="repo"/> through a <see cref="GatedLauncher"/>
    /// on <paramref name="cores"/> cores; returns the launcher, the run and what the executor printed.</summary>
    static (GatedLauncher Launcher, Task<RunSummary> Run, StringWriter Console) Start(TestRepo repo, Engine.Pipeline.Graph.Stage[] stages,
        int parallelJobs, int? threadsPerJob, int cores)
    {
        var session = PipelineSession.Open(repo.SpecPath, stages: stages);
        var launcher = new GatedLauncher(session);
        var console = new StringWriter();
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs, threadsPerJob,
            TextWriter.Synchronized(console), cores: cores);
        return (launcher, executor.RunAsync(session.Graph, null), console);
    }
}
