using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Where and how parallel the pipeline's jobs run.</summary>
[Description("Where the pipeline's jobs run and how many at once.")]
public sealed record ExecutorSpec
{
    [Description("local: processes on this machine; slurm: job arrays on a cluster.")]
    public ExecutorKind Kind { get; init; } = ExecutorKind.Local;

    [Description("Jobs run at once.")]
    [Bounds(Minimum = 1)]
    public int Jobs { get; init; } = 2;

    [Description("CPU threads per job; default: the cores divided among the jobs (on Slurm: 1, the CPUs each task asks for). Jobs of Fetch, Tokenizer, Report, Pack and Publish, " +
                 "which compute on one thread, take one.")]
    [Bounds(Minimum = 1)]
    public int? ThreadsPerJob { get; init; }

    [Description("GPUs a local run uses, one job on CUDA on each at a time (its CUDA_VISIBLE_DEVICES); default: every GPU " +
                 "this machine shows (CUDA_VISIBLE_DEVICES, else the driver's list). On Slurm, executor.slurm.gres places GPU jobs.")]
    [Bounds(Minimum = 1)]
    public int? Gpus { get; init; }

    [Description("Jobs on CUDA that share one GPU at a time in a local run (each sees the same device). Above 1, one job's " +
                 "start, loading and kernel launches overlap another's kernels, where every job's memory fits the GPU " +
                 "together (each manifest's peak_gpu_bytes is then the device's; its peak_gpu_process_bytes, where the driver lists " +
                 "the job's process, the job's own). Timing jobs still run alone, and so does a process planned to hold more than a job's share " +
                 "of the GPU (90% of its memory over jobs_per_gpu).")]
    [Bounds(Minimum = 1)]
    public int JobsPerGpu { get; init; } = 1;

    [Description("Slurm settings, used when kind is slurm.")]
    public SlurmSpec Slurm { get; init; } = new();
}
