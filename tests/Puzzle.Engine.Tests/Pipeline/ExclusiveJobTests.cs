using System.Collections.Concurrent;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// An exclusive job (a timing: Measure, Search with its closed loop, Speed) runs alone on every core, and only once no
/// other job is ready: every job that can run beside another runs first.
/// </summary>
public class ExclusiveJobTests
{
    /// <param name="pairwise">job i reads job i of each upstream stage (as a layer's Score reads that layer's variants), not all of them</param>
    sealed class Stage(string name, bool exclusive, IReadOnlyList<string> upstream, int jobs, bool pairwise = false) : Engine.Pipeline.Graph.Stage
    {
        public override string Name => name;
        public override int Version => 1;
        public override bool Exclusive => exclusive;
        public override IReadOnlyList<string> Upstream => upstream;

        public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
            [.. Enumerable.Range(0, jobs).Select(i => new JobPlan(this, $"j{i}", new FanOutStages.VariantJob(i, 0, 0, 0),
                upstream.SelectMany(u => pairwise ? [planned[u][i]] : planned[u]).ToDictionary(j => j.Name, j => j)))];

        public override void Run(JobContext context) => File.WriteAllText(context.Output("done.txt"), context.Job.Name);
    }

    /// <summary>Runs each job in this process on a thread of its own, recording when it started and ended and its threads.</summary>
    sealed class RecordingLauncher(PipelineSession session) : IJobLauncher
    {
        public readonly ConcurrentQueue<(string Event, string Job, int Threads)> Events = new();

        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            Events.Enqueue(("start", job.Name, threads));
            return Task.Run(() =>
            {
                JobRunner.Run(job, session.Spec, session.Store, session.History, TextWriter.Null, 1, runId);
                Events.Enqueue(("end", job.Name, threads));
                return 0;
            }, cancel);
        }
    }

    [Fact]
    public async Task A_ready_exclusive_job_waits_for_the_others_then_runs_alone_on_every_core()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        // Timing is ready at once, as Measure is; Work and Train could run beside each other, and After needs them all
        Engine.Pipeline.Graph.Stage[] stages = [new Stage("Timing", true, [], 1), new Stage("Work", false, [], 3),
            new Stage("Train", false, ["Work"], 2), new Stage("After", false, ["Timing", "Train"], 1)];
        var session = PipelineSession.Open(repo.SpecPath, stages: stages);
        var launcher = new RecordingLauncher(session);
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 2, threadsPerJob: null, console: TextWriter.Null);

        var summary = await executor.RunAsync(session.Graph, null);

        Assert.True(summary.Succeeded);
        var events = launcher.Events.ToList();
        var start = events.FindIndex(e => e is ("start", "Timing/j0", _));
        var end = events.FindIndex(e => e is ("end", "Timing/j0", _));
        Assert.Equal(start + 1, end); // nothing started or ended while it ran
        Assert.All(events.Take(start), e => Assert.True(e.Job.StartsWith("Work/", StringComparison.Ordinal) || e.Job.StartsWith("Train/", StringComparison.Ordinal), e.Job));
        Assert.Equal(10, start); // every Work and Train job started and ended before it
        Assert.Equal(Environment.ProcessorCount, events[start].Threads);
        Assert.Equal(("start", "After/j0"), (events[end + 1].Event, events[end + 1].Job));
    }

    /// <summary>A target's jobs are planned depth first (a layer's Score right after that layer's variants); of the jobs
    /// ready at once the earlier stage's start first, so a later stage's process finds all its inputs built.</summary>
    [Fact]
    public async Task Of_the_ready_jobs_the_earlier_stages_start_first()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Engine.Pipeline.Graph.Stage[] stages = [new Stage("Library", false, [], 3), new Stage("Score", false, ["Library"], 3, pairwise: true)];
        var session = PipelineSession.Open(repo.SpecPath, stages: stages);
        Assert.Equal(["Library/j0", "Score/j0", "Library/j1", "Score/j1", "Library/j2", "Score/j2"], session.Graph.JobsFor("Score").Select(j => j.Name));
        var launcher = new RecordingLauncher(session);
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 1, threadsPerJob: null, console: TextWriter.Null);

        Assert.True((await executor.RunAsync(session.Graph, "Score")).Succeeded);

        Assert.Equal(["Library/j0", "Library/j1", "Library/j2", "Score/j0", "Score/j1", "Score/j2"],
            launcher.Events.Where(e => e.Event == "start").Select(e => e.Job));
    }
}
