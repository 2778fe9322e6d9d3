using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>How jobs are submitted to Slurm.</summary>
[Description("Slurm submission settings.")]
public sealed record SlurmSpec
{
    [Description("Partition (--partition); default: the cluster's.")]
    public string? Partition { get; init; }

    [Description("Generic resources per job (--gres), e.g. gpu:1.")]
    public string? Gres { get; init; }

    [Description("Time limit per job (--time), [D-]HH:MM:SS.")]
    [Pattern("^([0-9]+-)?[0-9]{1,2}:[0-9]{2}:[0-9]{2}$", Hint = "[D-]HH:MM:SS, e.g. 01:00:00")]
    public string Time { get; init; } = "01:00:00";

    [Description("Array tasks running at once (the %N of --array).")]
    [Bounds(Minimum = 1)]
    public int ArrayThrottle { get; init; } = 4;

    [Description("Extra sbatch arguments, passed as written.")]
    public IReadOnlyList<string> Extra { get; init; } = [];

    [Description("Shared folder jobs exchange results in, inside artifacts/ or .puzzle/; default: .puzzle/slurm.")]
    public string? Store { get; init; }
}
