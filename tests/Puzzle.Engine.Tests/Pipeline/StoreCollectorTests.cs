using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary><c>puzzle gc</c> beside a run that is building a job: what the job writes and holds stays, the rest goes.</summary>
public sealed class StoreCollectorTests
{
    /// <summary>A job that reports when its payload is half written and then waits for the test to let it finish.</summary>
    sealed class Gate : Stage
    {
        public readonly ManualResetEventSlim Started = new(), Release = new();
        public override string Name => "Gate";
        public override int Version => 1;
        public override IReadOnlyList<string> Upstream => ["Report"];

        public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
            [new JobPlan(this, "gate", new FanOutStages.NoSettings(), new Dictionary<string, JobPlan> { ["report"] = planned["Report"].Single() })];

        public override void Run(JobContext context)
        {
            File.WriteAllText(context.Output("half.txt"), "written before the gate");
            Started.Set();
            if (!Release.Wait(TimeSpan.FromMinutes(2))) throw new TimeoutException("the test never released the gate");
            File.WriteAllText(context.Output("rest.txt"), "written after the gate");
        }
    }

    static IReadOnlyList<Stage> Stages(Gate gate) => [.. FanOutStages.All(), gate];

    static HashSet<string> EntriesOnDisk(string store) =>
        Directory.EnumerateDirectories(Path.Combine(store, "cache")).SelectMany(Directory.EnumerateDirectories).Select(Path.GetFileName).OfType<string>().ToHashSet();

    [Fact]
    public async Task Gc_during_a_run_leaves_the_job_being_built_and_every_reachable_entry_and_removes_the_unreachable_ones()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var first = new Gate();
        first.Release.Set();
        var before = PipelineSession.Open(repo.SpecPath, stages: Stages(first));
        Assert.True((await before.RunAsync(null, before.InProcessLauncher(), TextWriter.Null)).Succeeded);
        repo.Edit("throughput_vs_parent: 1.5", "throughput_vs_parent: 2.0"); // Select, Report and Gate change; the variants stay
        var gate = new Gate();
        var session = PipelineSession.Open(repo.SpecPath, stages: Stages(gate));
        var oldKeys = before.Graph.JobsFor(null).Select(j => j.Key).ToHashSet();
        var newKeys = session.Graph.JobsFor(null).Select(j => j.Key).ToHashSet();
        var gateKey = session.Graph.Find("Gate", "gate").Key;

        var run = Task.Run(() => session.RunAsync(null, session.InProcessLauncher(), TextWriter.Null));
        try
        {
            Assert.True(gate.Started.Wait(TimeSpan.FromMinutes(2)), "the gate job never started");
            var staging = Directory.GetDirectories(Path.Combine(repo.Store, "tmp"), gateKey[..16] + "-*").Single();

            var result = StoreCollector.Collect([session], dryRun: false);

            Assert.Equal(oldKeys.Except(newKeys).Order(), result.Removed.Where(r => r.Kind == "entry").Select(r => Path.GetFileName(r.Path)).Order());
            Assert.Contains(result.Left, b => b.Path == staging && b.Why.StartsWith("locked by a running job", StringComparison.Ordinal));
            Assert.True(File.Exists(Path.Combine(staging, "half.txt")), "the job's half-written payload stays");
            Assert.Equal(newKeys.Where(k => k != gateKey).ToHashSet(), EntriesOnDisk(repo.Store));
        }
        finally { gate.Release.Set(); }

        var summary = await run;
        Assert.True(summary.Succeeded, string.Join("; ", summary.Where(JobOutcome.Failed).Select(j => j.Reason)));
        Assert.Equal(newKeys, EntriesOnDisk(repo.Store));
        var again = PipelineSession.Open(repo.SpecPath, stages: Stages(gate));
        Assert.Empty((await again.RunAsync(null, again.InProcessLauncher(), TextWriter.Null)).Where(JobOutcome.Ran));
    }
}
