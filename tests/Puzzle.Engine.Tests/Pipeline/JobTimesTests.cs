using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The time a run gives a job: on this machine, from its launch to its end; on a cluster, the time its process
/// recorded (the clock there runs from the submission to the poll that saw the task end, its wait in the queue too).</summary>
public class JobTimesTests
{
    /// <summary>A launcher that says how long a job has run (a cluster's task, since it started on its node).</summary>
    sealed class RunFor(GatedLauncher inner, TimeSpan ran) : IJobLauncher
    {
        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null) =>
            inner.LaunchAsync(job, runId, logPath, threads, cancel, gpu);
        public TimeSpan? RunningFor(JobPlan job) => ran;
        public bool OnThisMachine => false;
    }

    /// <summary>B is expected to take 600 s (an earlier run's time); when A ends, B has run 500 s by its launcher's
    /// account, not the few milliseconds since its launch: 100 s are left.</summary>
    [Fact]
    public async Task The_eta_counts_a_running_job_from_what_its_launcher_says_it_has_run()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath, stages: [new OneJobStage("A", []), new OneJobStage("B", [])]);
        new RunSummary(session.Spec.Name, null, DateTime.UtcNow.AddHours(-1), 600, [new JobRecord("B", "j", "earlier", JobOutcome.Ran, 600, null)])
            .Save(session.Store.Root);
        var gated = new GatedLauncher(session, onThisMachine: false);
        var console = new StringWriter();
        var executor = new LocalExecutor(session.Store, session.History, new RunFor(gated, TimeSpan.FromSeconds(500)), parallelJobs: 2,
            threadsPerJob: 1, console: console, cores: 2);

        var run = executor.RunAsync(session.Graph, null);
        await gated.WaitFor("start B/j 1");
        gated.Release("A/j");
        await gated.WaitFor("end A/j");
        gated.Release("B/j");
        Assert.True((await run).Succeeded);

        Assert.Matches(@"done   A/j in \d+\.\d s \(\d+\.\d s from its submission\), ETA 0:01:40 \(", console.ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_job_on_a_cluster_takes_the_time_its_process_recorded_and_one_here_the_time_from_its_launch(bool onThisMachine)
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath, stages: [new OneJobStage("A", [])]);
        var launcher = new GatedLauncher(session, onThisMachine);
        var console = new StringWriter();
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 1, threadsPerJob: 1, console: console, cores: 1);

        var run = executor.RunAsync(session.Graph, null);
        await launcher.WaitFor("start A/j 1"); // the job waits here for the test: on a cluster, in the queue
        launcher.Release("A/j");
        var record = Assert.Single((await run).Jobs);

        var own = session.Store.Find(record.Key)!.Manifest.Seconds;
        if (onThisMachine) Assert.True(record.Seconds > own, $"{record.Seconds} s recorded, the job's own {own} s");
        else
        {
            Assert.Equal(own, record.Seconds, tolerance: 1e-6); // as recorded, in the whole 100 ns ticks a TimeSpan holds
            Assert.Matches(@"done   A/j in \d+\.\d s \(\d+\.\d s from its submission\)", console.ToString());
        }
    }
}
