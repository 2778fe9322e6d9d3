using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>What one stage's Slurm tasks ask for instead of <see cref="SlurmSpec"/>'s: a Heal of an 8B child for hours
/// and memory, a Fetch for minutes and one CPU on a CPU partition.</summary>
[Description("Slurm requests for one stage's tasks, in place of executor.slurm's.")]
public sealed record SlurmStageSpec
{
    [Description("The stage whose tasks this applies to: Fetch, Tokenizer, Data, Parent, Distill, Score, Measure, Search, Heal, Evaluate, Sweep, Speed, Report, Export, Pack or Publish.")]
    [Pattern("^[A-Za-z]+$", Hint = "a stage's name, e.g. Heal")]
    public required string Stage { get; init; }

    [Description("Partition (--partition) for this stage's tasks; default: executor.slurm.partition.")]
    [Pattern("^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$", Hint = "a partition name, or several separated by commas, e.g. gpu")]
    public string? Partition { get; init; }

    [Description("Generic resources (--gres) for this stage's tasks, e.g. gpu:h100:1; default: as executor.slurm.gres gives them.")]
    [Pattern("^[A-Za-z0-9_]+(:[A-Za-z0-9_.-]+)*(,[A-Za-z0-9_]+(:[A-Za-z0-9_.-]+)*)*$", Hint = "NAME[:TYPE][:COUNT], e.g. gpu:1 or gpu:h100:1")]
    public string? Gres { get; init; }

    [Description("Time limit per task of this stage (--time), [D-]HH:MM:SS; default: executor.slurm.time.")]
    [Pattern("^([0-9]+-)?[0-9]{1,2}:[0-9]{2}:[0-9]{2}$", Hint = "[D-]HH:MM:SS, e.g. 12:00:00")]
    public string? Time { get; init; }

    [Description("CPUs each of this stage's tasks asks for (--cpus-per-task) and its threads; default: executor.threads_per_job, " +
                 "and 1 for Fetch, Tokenizer, Report, Pack and Publish, which compute on one thread. The CLI's --threads-per-job sets " +
                 "every other job's.")]
    [Bounds(Minimum = 1)]
    public int? ThreadsPerJob { get; init; }

    [Description("sbatch arguments added after executor.slurm.extra for this stage's tasks (e.g. --mem=200G); where both give an option, sbatch takes this one.")]
    [Pattern("^(?!(--(array|output|error|job-name|parsable|chdir|wrap)\\b|-[aoeJD]))-.+$",
        Hint = "one sbatch option per item, e.g. --mem=200G; not --array, --output, --error, --job-name, " +
               "--parsable, --chdir or --wrap, which Puzzle sets")]
    public IReadOnlyList<string> Extra { get; init; } = [];
}
