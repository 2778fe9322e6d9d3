using System.Collections.Concurrent;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The local executor runs one CUDA job per GPU (or <c>executor.jobs_per_gpu</c>), each with its own CUDA_VISIBLE_DEVICES.</summary>
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

    [Fact]
    public async Task With_two_jobs_per_gpu_each_gpu_holds_at_most_two_and_the_second_waits_for_every_gpu_to_have_one()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("executor:\n  jobs: 2", "device: cuda\nexecutor:\n  jobs: 8\n  jobs_per_gpu: 2")
            .Replace("ratios: [0.5, 0.25]", "ratios: [0.75, 0.5, 0.25]")); // 6 jobs for 4 places
        var session = PipelineSession.Open(repo.SpecPath, stages: FanOutStages.All());
        Assert.Equal(2, session.Spec.Executor.JobsPerGpu);
        var launcher = new HoldingLauncher(session);
        var executor = new LocalExecutor(session.Store, session.History, launcher, parallelJobs: 8, threadsPerJob: 1,
            console: TextWriter.Null, gpus: new GpuSlots(["3", "5"], session.Spec.Executor.JobsPerGpu));
        var variants = session.Graph.Jobs["Variants"].Count;
        Assert.True(variants >= 6, $"{variants} jobs");
        var run = executor.RunAsync(session.Graph, "Variants");
        var deadline = TimeSpan.FromSeconds(30);
        for (var finished = 0; finished < variants; finished++)
        {
            while (launcher.Running.Count < Math.Min(4, variants - finished))
                Assert.True(await launcher.Launched.WaitAsync(deadline), "the executor did not launch the next job");
            var perGpu = launcher.Running.Values.GroupBy(r => r.Gpu).ToDictionary(g => g.Key!, g => g.Count());
            Assert.True(perGpu.Values.Sum() <= 4, $"{perGpu.Values.Sum()} jobs on 2 GPUs at 2 each");
            Assert.All(perGpu, p => Assert.True(p.Value <= 2, $"{p.Value} jobs on GPU {p.Key}"));
            Assert.All(perGpu.Keys, g => Assert.Contains(g, new[] { "3", "5" }));
            launcher.Finish(launcher.Running.Keys.First());
        }
        Assert.True((await run).Succeeded);
        Assert.Equal(variants, launcher.Launches.Count);
        Assert.NotEqual(launcher.Launches[0].Gpu, launcher.Launches[1].Gpu); // the first two go to different GPUs
    }

    [Fact]
    public void A_job_goes_to_the_gpu_with_the_fewest_jobs()
    {
        var slots = new GpuSlots(["0", "1"], jobsPerGpu: 2);
        var taken = Enumerable.Range(0, 4).Select(_ => Assert.IsType<string>(slots.TryTake(out var id) ? id : null)).ToList();
        Assert.Equal(["0", "1", "0", "1"], taken);
        Assert.False(slots.TryTake(out _));
        slots.Return("0");
        slots.Return("0");
        slots.Return("1");
        Assert.Equal(3, slots.Free);
        Assert.True(slots.TryTake(out var a));
        Assert.Equal("0", a); // GPU 0 has none, GPU 1 one
        Assert.True(slots.TryTake(out var b));
        Assert.Equal("0", b); // a tie goes to the first
        Assert.True(slots.TryTake(out var c));
        Assert.Equal("1", c);
        Assert.Throws<InvalidOperationException>(() => { slots.Return("0"); slots.Return("0"); slots.Return("0"); });
        Assert.Throws<ArgumentOutOfRangeException>(() => new GpuSlots(["0"], jobsPerGpu: 0));
    }
}
