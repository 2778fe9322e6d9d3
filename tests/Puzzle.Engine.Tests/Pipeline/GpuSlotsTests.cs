using System.Collections.Concurrent;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The local executor runs one CUDA job per GPU, each with its own CUDA_VISIBLE_DEVICES.</summary>
public class GpuSlotsTests
{
    /// <summary>Holds every job until the test lets it go, and remembers which GPU it was given.</summary>
    sealed class HoldingLauncher(PipelineSession session) : IJobLauncher
    {
        public readonly ConcurrentDictionary<string, (string? Gpu, TaskCompletionSource<int> Done)> Running = new();
        public readonly List<(string Job, string? Gpu)> Launches = new();
        public readonly SemaphoreSlim Launched = new(0);

        public Task<int> LaunchAsync(JobPlan job, string runId, string logPath, int threads, CancellationToken cancel, string? gpu = null)
        {
            var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            Running[job.Name] = (gpu, done);
            lock (Launches) Launches.Add((job.Name, gpu));
            Launched.Release();
            return done.Task.ContinueWith(t =>
            {
                JobRunner.Run(job, session.Spec, session.Store, session.History, TextWriter.Null, 1, runId); // publish it for real
                return t.Result;
            });
        }

        public void Finish(string job)
        {
            Running.TryRemove(job, out var r);
            r.Done.SetResult(0);
        }
    }

    [Fact]
    public async Task Cuda_jobs_get_distinct_gpus_and_never_outnumber_them()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("executor:\n  jobs: 2", "device: cuda\nexecutor:\n  jobs: 4"));
        var session = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All());
        var launcher = new HoldingLauncher(session);
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 4, threadsPerJob: 1,
            console: TextWriter.Null, gpus: new GpuSlots(["3", "5"]));
        var variants = session.Graph.Jobs["Variants"].Count;
        Assert.True(variants >= 4);
        var run = executor.RunAsync(session.Graph, "Variants");
        var deadline = TimeSpan.FromSeconds(30);
        for (var finished = 0; finished < variants; finished++)
        {
            // wait until every GPU is busy (or every job has started), then check, then let one job end
            while (launcher.Running.Count < Math.Min(2, variants - finished))
                Assert.True(await launcher.Launched.WaitAsync(deadline), "the executor did not launch the next job");
            var gpus = launcher.Running.Values.Select(r => r.Gpu).ToList();
            Assert.True(gpus.Count <= 2, $"{gpus.Count} jobs on 2 GPUs");
            Assert.All(gpus, g => Assert.Contains(g, new[] { "3", "5" }));
            Assert.Equal(gpus.Count, gpus.Distinct().Count());
            launcher.Finish(launcher.Running.Keys.First());
        }
        var summary = await run;
        Assert.True(summary.Succeeded);
        Assert.Equal(variants, launcher.Launches.Count);
        Assert.Equal(["3", "5"], launcher.Launches.Select(l => l.Gpu).Distinct().Order());
    }
}
