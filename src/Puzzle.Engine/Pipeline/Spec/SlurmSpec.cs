using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>How jobs are submitted to Slurm.</summary>
[Description("Slurm submission settings.")]
public sealed record SlurmSpec
{
    [Description("Partition (--partition); default: the cluster's.")]
    [Pattern("^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$", Hint = "a partition name, or several separated by commas, e.g. gpu")]
    public string? Partition { get; init; }

    [Description("Generic resources (--gres), e.g. gpu:h100:1. In a pipeline on a GPU, what each job that computes on the GPU asks for " +
                 "(default gpu:1), and jobs on the CPU (Fetch, Data, Report, Pack, ...) ask for none; in a pipeline on the CPU, what every job asks for.")]
    [Pattern("^[A-Za-z0-9_]+(:[A-Za-z0-9_.-]+)*(,[A-Za-z0-9_]+(:[A-Za-z0-9_.-]+)*)*$", Hint = "NAME[:TYPE][:COUNT], e.g. gpu:1 or gpu:h100:1")]
    public string? Gres { get; init; }

    [Description("Time limit per job (--time), [D-]HH:MM:SS.")]
    [Pattern("^([0-9]+-)?[0-9]{1,2}:[0-9]{2}:[0-9]{2}$", Hint = "[D-]HH:MM:SS, e.g. 01:00:00")]
    public string Time { get; init; } = "01:00:00";

    [Description("Array tasks running at once (the %N of --array).")]
    [Bounds(Minimum = 1)]
    public int ArrayThrottle { get; init; } = 4;

    [Description("Extra sbatch arguments, one option per item, passed as written (e.g. --account=proj, --mem=16G).")]
    [Pattern("^(?!(--(array|output|error|job-name|parsable|chdir|wrap)\\b|-[aoeJD]))-.+$",
        Hint = "one sbatch option per item, e.g. --account=proj or --mem=16G; not --array, --output, --error, --job-name, " +
               "--parsable, --chdir or --wrap, which Puzzle sets")]
    public IReadOnlyList<string> Extra { get; init; } = [];

    [Description("Times a task that was killed or lost (a time limit, a node failure, a preemption), or that ended on a filesystem error that may pass (exit 75: an I/O error, a stale file handle), is submitted again before its job counts as failed; a task that ended on an error of its own (exit 1) is not.")]
    [Bounds(Minimum = 0, Maximum = 10)]
    public int Retries { get; init; } = 2;

    [Description("Seconds between looks at the queue (one squeue call for all of a run's arrays); a task that published is seen at once from its log.")]
    [Bounds(Minimum = 1, Maximum = 600)]
    public int PollSeconds { get; init; } = 10;

    [Description("Requests of their own for some stages' tasks (time, partition, gres, more sbatch arguments), e.g. " +
                 "{ stage: Heal, time: \"12:00:00\", extra: [--mem=200G] }; one entry per stage.")]
    public IReadOnlyList<SlurmStageSpec> Stages { get; init; } = [];

    /// <summary>The entry of <paramref name="stage"/> in <see cref="Stages"/> (names compared ignoring case), or null.</summary>
    public SlurmStageSpec? For(string stage) => Stages.FirstOrDefault(s => string.Equals(s.Stage, stage, StringComparison.OrdinalIgnoreCase));

    [Description("The pipeline's cache store when kind is slurm, on a filesystem every node mounts, inside artifacts/ or .puzzle/ (give a store elsewhere with the CLI's --store); default: .puzzle/.")]
    public string? Store { get; init; }
}
