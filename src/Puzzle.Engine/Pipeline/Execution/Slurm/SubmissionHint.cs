using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>What to add to an sbatch refusal so the user knows which spec field to change.</summary>
internal static class SubmissionHint
{
    /// <summary>Points at the spec field behind what sbatch refused.</summary>
    public static string For(string error, SlurmSpec slurm, int threads)
    {
        var e = error.ToLowerInvariant();
        if (e.Contains("partition")) return $" (executor.slurm.partition is {(slurm.Partition is null ? "not set: the cluster's default" : $"'{slurm.Partition}'")})";
        if (e.Contains("gres") || e.Contains("generic resource")) return $" (executor.slurm.gres is '{slurm.Gres}')";
        if (e.Contains("time limit")) return $" (executor.slurm.time is '{slurm.Time}')";
        if (e.Contains("node configuration"))
            return $" (no node of the partition has what a task asks for: executor.slurm.gres {(slurm.Gres is null ? "not set" : $"'{slurm.Gres}'")}, " +
                   $"{threads} CPU{(threads == 1 ? "" : "s")} per task from executor.threads_per_job{Extra()})";
        return slurm.Extra.Count > 0 ? $" (check executor.slurm.extra{Extra()})" : "";

        string Extra() => slurm.Extra.Count > 0 ? $", executor.slurm.extra: {string.Join(" ", slurm.Extra)}" : "";
    }
}
