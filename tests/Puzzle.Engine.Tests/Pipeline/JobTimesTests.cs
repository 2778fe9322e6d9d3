using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The time a run gives a job: on this machine, from its launch to its end; on a cluster, the time its process
/// recorded (the clock there runs from the submission to the poll that saw the task end, its wait in the queue too).</summary>
public class JobTimesTests
{
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
            Assert.Equal(own, record.Seconds, 6);
            Assert.Matches(@"done   A/j in \d+\.\d s \(\d+\.\d s from its submission\)", console.ToString());
        }
    }
}
