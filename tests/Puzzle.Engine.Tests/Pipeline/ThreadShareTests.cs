using System.Collections.Concurrent;
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
    sealed class Stage(string name, IReadOnlyList<string> upstream, bool usesTorch = true) : Engine.Pipeline.Graph.Stage
    {
        public override string Name => name;
        public override int Version => 1;
        public override IReadOnlyList<string> Upstream => upstream;
        public override bool UsesTorch => usesTorch;

        public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
            [new JobPlan(this, "j", new FanOutStages.VariantJob(0, 0, 0, 0), upstream.SelectMany(u => planned[u]).ToDictionary(j => j.Name, j => j))];

        public override void Run(JobContext context) => File.WriteAllText(context.Output("done.txt"), context.Job.Name);
    }

    /// <summary>Runs each job on a thread of this process once the test releases it, recording starts, ends and every
    /// thread count the executor asks a running job to take; the test awaits each event it needs.</summary>
    sealed class GatedLauncher(PipelineSession session) : IJobLauncher
    {
        public readonly ConcurrentQueue<string> Events = new();
        readonly ConcurrentDictionary<string, TaskCompletionSource> _signals = new();
        readonly ConcurrentDictionary<string, bool> _running = new();

        TaskCompletionSource Signal(string name) => _signals.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        void Record(string evt)
        {
            Events.Enqueue(evt);
            Signal(evt).TrySetResult();
        }

        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            Record($"start {job.Name} {threads}");
            _running[job.Name] = true;
            return Task.Run(async () =>
            {
                await Signal("release " + job.Name).Task;
                JobRunner.Run(job, session.Spec, session.Store, session.History, TextWriter.Null, 1, runId);
                _running.TryRemove(job.Name, out _);
                Record($"end {job.Name}");
                return 0;
            }, cancel);
        }

        /// <summary>Marks each pass of the executor's loop with how many events came before it (it shares the cores out
        /// right after).</summary>
        public void Flush() => Signal($"flush after {Events.Count}").TrySetResult();

        public bool SetThreads(JobPlan job, int threads)
        {
            if (!_running.ContainsKey(job.Name)) return false;
            Record($"threads {job.Name} {threads}");
            return true;
        }

        public void Release(string job) => Signal("release " + job).TrySetResult();

        public Task WaitFor(string evt) => Signal(evt).Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_job_left_running_alone_gets_the_freed_cores_and_gives_them_back_when_others_start()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        // Long, Short and Mid start together on 6 cores; Next1 and Next2 (after Mid) start beside Long and end before it
        Engine.Pipeline.Graph.Stage[] stages = [new Stage("Long", []), new Stage("Short", []), new Stage("Mid", []),
            new Stage("Next1", ["Mid"]), new Stage("Next2", ["Mid"])];
        var session = PipelineSession.Open(repo.SpecPath, stages: stages);
        var launcher = new GatedLauncher(session);
        var console = new StringWriter();
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 3, threadsPerJob: null,
            console: TextWriter.Synchronized(console), cores: 6);

        var run = executor.RunAsync(session.Graph, null);
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
        Engine.Pipeline.Graph.Stage[] stages = [new Stage("Long", [], usesTorch: fixedCount), new Stage("Short", [])];
        var session = PipelineSession.Open(repo.SpecPath, stages: stages);
        var launcher = new GatedLauncher(session);
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 2, threadsPerJob: fixedCount ? 1 : null,
            console: TextWriter.Null, cores: 2);

        var run = executor.RunAsync(session.Graph, null);
        await launcher.WaitFor("start Short/j 1");
        launcher.Release("Short/j");
        await launcher.WaitFor("end Short/j");
        await launcher.WaitFor("flush after 3"); // the pass after Short ended, where Long would have been given its cores
        launcher.Release("Long/j");
        Assert.True((await run).Succeeded);

        Assert.DoesNotContain(launcher.Events, e => e.StartsWith("threads", StringComparison.Ordinal));
    }
}
