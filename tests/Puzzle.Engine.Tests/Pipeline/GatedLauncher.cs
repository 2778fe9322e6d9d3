using System.Collections.Concurrent;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Runs each job on a thread of this process once the test releases it, recording starts (with the threads
/// and the GPU it was given), ends and every thread count the executor asks a running job to take; the test awaits
/// each event it needs. With <paramref name="onThisMachine"/> false it stands for a cluster's launcher.</summary>
internal sealed class GatedLauncher(PipelineSession session, bool onThisMachine = true) : IJobLauncher
{
    public bool OnThisMachine => onThisMachine;

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
        Record($"start {job.Name} {threads}" + (gpu is null ? "" : $" gpu {gpu}"));
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

/// <summary>A stage of one job, after the jobs of <paramref name="upstream"/>, that writes a file: on
/// <paramref name="device"/> (none: it computes nothing), estimated to hold <paramref name="planned"/> bytes there;
/// <paramref name="singleThreaded"/>: on one thread.</summary>
internal sealed class OneJobStage(string name, IReadOnlyList<string> upstream, bool usesTorch = true, DeviceKind? device = null, long? planned = null,
    bool singleThreaded = false) : Stage
{
    public override string Name => name;
    public override int Version => 1;
    public override IReadOnlyList<string> Upstream => upstream;
    public override bool UsesTorch => usesTorch;
    public override bool SingleThreaded => singleThreaded;
    public override DeviceKind? ComputesOn(PipelineSpec spec) => device;
    public override long? PlannedMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) => planned;

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
        [new JobPlan(this, "j", new FanOutStages.VariantJob(0, 0, 0, 0), upstream.SelectMany(u => planned[u]).ToDictionary(j => j.Name, j => j))];

    public override void Run(JobContext context) => File.WriteAllText(context.Output("done.txt"), context.Job.Name);
}
