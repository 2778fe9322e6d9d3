using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>
/// What one stage's tasks ask Slurm for: executor.slurm, with that stage's entry of executor.slurm.stages over it (its
/// extra added after executor.slurm.extra), and the spec field each value comes from.
/// </summary>
/// <param name="DefaultGres">what the tasks ask for with --gres where the entry sets none (<see cref="SlurmJobLauncher.GresFor"/>),
/// or null for none</param>
internal sealed record SlurmRequest(SlurmSpec Slurm, string Stage, string? DefaultGres)
{
    SlurmStageSpec? Entry => Slurm.For(Stage);

    public string? Gres => Entry?.Gres ?? DefaultGres;
    public string? Partition => Entry?.Partition ?? Slurm.Partition;
    public string Time => Entry?.Time ?? Slurm.Time;
    public IReadOnlyList<string> Extra => [.. Slurm.Extra, .. Entry?.Extra ?? []];

    /// <summary>Where <paramref name="key"/>'s value comes from: the stage's entry when it sets one, else executor.slurm.</summary>
    public string Field(string key) => Entry is { } entry && key switch
    {
        "partition" => entry.Partition is not null,
        "time" => entry.Time is not null,
        "gres" => entry.Gres is not null,
        "threads_per_job" => entry.ThreadsPerJob is not null,
        _ => false,
    } ? $"{EntryPath(entry)}.{key}" : key == "threads_per_job" ? "executor.threads_per_job" : $"executor.slurm.{key}";

    string EntryPath(SlurmStageSpec entry) => $"executor.slurm.stages[{Slurm.Stages.ToList().IndexOf(entry)}] ({Stage})";

    /// <summary>The sbatch arguments as written in the spec, and where, for a message: "executor.slurm.extra: --account=p;
    /// executor.slurm.stages[0] (Heal).extra: --mem=200G".</summary>
    public string ExtraAsWritten() => string.Join("; ",
        new[] { ("executor.slurm.extra", Slurm.Extra), (Entry is { } e ? $"{EntryPath(e)}.extra" : "", Entry?.Extra ?? []) }
            .Where(p => p.Item2.Count > 0).Select(p => $"{p.Item1}: {string.Join(" ", p.Item2)}"));
}

/// <summary>The spec fields behind what a task asked Slurm for, in words, for a refusal (<see cref="SubmissionHint"/>)
/// or a task Slurm will not start (<see cref="PendingReason"/>).</summary>
internal static class SlurmFields
{
    public static string Partition(SlurmRequest request) =>
        $"{request.Field("partition")} is {(request.Partition is null ? "not set: the cluster's default" : $"'{request.Partition}'")}";

    public static string Gres(SlurmRequest request) =>
        request.Gres is null ? "no --gres: executor.slurm.gres is not set" : $"--gres={request.Gres} from {request.Field("gres")}";

    public static string Time(SlurmRequest request) => $"{request.Field("time")} is '{request.Time}'";

    public static string Cpus(SlurmRequest request, int threads) =>
        $"{threads} CPU{(threads == 1 ? "" : "s")} per task from {request.Field("threads_per_job")}";

    /// <summary>The sbatch arguments as written, where an option such as <paramref name="option"/> goes.</summary>
    public static string Extra(SlurmRequest request, string option = "option") => request.Extra.Count > 0
        ? request.ExtraAsWritten()
        : $"executor.slurm.extra sets no {option}: the cluster's default";
}

/// <summary>What to add to an sbatch refusal so the user knows which spec field to change.</summary>
internal static class SubmissionHint
{
    /// <summary>Points at the spec field behind what sbatch refused.</summary>
    public static string For(string error, SlurmRequest request, int threads)
    {
        var e = error.ToLowerInvariant();
        if (e.Contains("partition")) return $" ({SlurmFields.Partition(request)})";
        if (e.Contains("gres") || e.Contains("generic resource")) return $" ({SlurmFields.Gres(request)})";
        if (e.Contains("time limit")) return $" ({SlurmFields.Time(request)})";
        if (e.Contains("node configuration"))
            return $" (no node of the partition has what a task asks for: {SlurmFields.Gres(request)}, {SlurmFields.Cpus(request, threads)}" +
                   (request.Extra.Count > 0 ? $", {SlurmFields.Extra(request)})" : ")");
        return request.Extra.Count > 0 ? $" (check {SlurmFields.Extra(request)})" : "";
    }
}
