using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>One job's way through the cluster: its current task, its attempts.</summary>
internal sealed class SlurmTask(JobPlan job, string log, int threads)
{
    public JobPlan Job { get; } = job;
    public string Log { get; } = log;
    public int Threads { get; } = threads;
    public TaskCompletionSource<int> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int Attempts { get; set; }
    public string ArrayId { get; set; } = "";
    public string? SlurmId { get; set; }
    public int EndedPolls { get; set; }
    /// <summary>Looks at the queue in a row that found the task pending for a reason it can never start for.</summary>
    public int BlockedPolls { get; set; }
    /// <summary>The log's length when it was last looked at for the task's start or end.</summary>
    public long LogLength { get; set; }
    /// <summary>When the current attempt was first seen writing to its log (started on its node); null while it waits.</summary>
    public DateTime? StartedUtc { get; set; }
}
