using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>The spec fields behind what a task asked Slurm for, in words, for a refusal (<see cref="SubmissionHint"/>)
/// or a task Slurm will not start (<see cref="PendingReason"/>).</summary>
internal static class SlurmFields
{
    public static string Partition(SlurmSpec slurm) =>
        $"executor.slurm.partition is {(slurm.Partition is null ? "not set: the cluster's default" : $"'{slurm.Partition}'")}";

    /// <param name="gres">what the task asked for with --gres (<see cref="SlurmJobLauncher.GresFor"/>)</param>
    public static string Gres(string? gres) => gres is null ? "no --gres: executor.slurm.gres is not set" : $"--gres={gres} from executor.slurm.gres";

    public static string Time(SlurmSpec slurm) => $"executor.slurm.time is '{slurm.Time}'";

    public static string Cpus(int threads) => $"{threads} CPU{(threads == 1 ? "" : "s")} per task from executor.threads_per_job";

    /// <summary>executor.slurm.extra as written, where an option such as <paramref name="option"/> goes.</summary>
    public static string Extra(SlurmSpec slurm, string option = "option") => slurm.Extra.Count > 0
        ? $"executor.slurm.extra: {string.Join(" ", slurm.Extra)}"
        : $"executor.slurm.extra sets no {option}: the cluster's default";
}

/// <summary>What to add to an sbatch refusal so the user knows which spec field to change.</summary>
internal static class SubmissionHint
{
    /// <summary>Points at the spec field behind what sbatch refused.</summary>
    /// <param name="gres">what the refused array asked for with --gres</param>
    public static string For(string error, SlurmSpec slurm, string? gres, int threads)
    {
        var e = error.ToLowerInvariant();
        if (e.Contains("partition")) return $" ({SlurmFields.Partition(slurm)})";
        if (e.Contains("gres") || e.Contains("generic resource")) return $" ({SlurmFields.Gres(gres)})";
        if (e.Contains("time limit")) return $" ({SlurmFields.Time(slurm)})";
        if (e.Contains("node configuration"))
            return $" (no node of the partition has what a task asks for: {SlurmFields.Gres(gres)}, {SlurmFields.Cpus(threads)}" +
                   (slurm.Extra.Count > 0 ? $", {SlurmFields.Extra(slurm)})" : ")");
        return slurm.Extra.Count > 0 ? $" (check {SlurmFields.Extra(slurm)})" : "";
    }
}
