using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Execution.Slurm;

/// <summary>What a Slurm reason for a PENDING task (squeue's <c>%r</c>) means for the run.</summary>
internal enum PendingKind
{
    /// <summary>A wait that ends by itself: Priority, Resources, JobArrayTaskLimit, a running total of the user's or
    /// the account's jobs at its limit, or a reason the run does not know.</summary>
    Waits,
    /// <summary>The task as submitted can never start: it asks for more than a per-job or per-node limit of its
    /// partition, QOS or association allows, for less than its QOS's minimum, or for an account, QOS or node feature it
    /// may not use. A cluster that does not enforce those limits at submission accepts such a job and leaves it pending.</summary>
    NeverStarts,
    /// <summary>The task waits for the cluster's administrators: a partition or node that is down, a hold.</summary>
    WaitsForAdmins,
}

/// <summary>
/// Reads Slurm's reason for a pending task (the codes of Slurm's "Job Reason Codes" page, as squeue prints them:
/// <c>ReqNodeNotAvail, UnavailableNodes:node[1-2]</c> is ReqNodeNotAvail), and says what it means and which spec field
/// sets what the task asked for.
/// </summary>
internal static class PendingReason
{
    static readonly Regex PerJobLimit = new(@"^(?<owner>QOS|Assoc)Max(?<what>[A-Za-z]+?)(?<minutes>Minutes)?Per(?<per>Job|Node)(Limit)?$", RegexOptions.CultureInvariant);
    static readonly Regex QosMinimum = new(@"^QOSMin(?<what>[A-Za-z]+?)(NotSatisfied)?$", RegexOptions.CultureInvariant);

    /// <summary>The reason's code: its first word (squeue adds details after a comma).</summary>
    public static string Code(string reason) => reason.Split([',', ' ', '('], 2)[0].Trim();

    /// <summary>What <paramref name="reason"/> means for a task that asked for <paramref name="request"/> and
    /// <paramref name="threads"/> CPUs, and, unless it is a plain wait, why in words, with the spec field behind what
    /// the task asked for.</summary>
    public static (PendingKind Kind, string? Why) Read(string reason, SlurmRequest request, int threads)
    {
        var code = Code(reason);
        var never = code switch
        {
            "PartitionTimeLimit" => $"its time limit is above its partition's ({SlurmFields.Time(request)})",
            "BadConstraints" => $"no node of its partition has the features or resources it asks for ({SlurmFields.Gres(request)}, {SlurmFields.Extra(request, "--constraint")})",
            "AccountNotAllowed" => $"its account may not use its partition ({SlurmFields.Partition(request)}, {SlurmFields.Extra(request, "--account")})",
            "InvalidAccount" => $"its account is not valid ({SlurmFields.Extra(request, "--account")})",
            "InvalidQOS" => $"its QOS is not valid ({SlurmFields.Extra(request, "--qos")})",
            "QOSNotAllowed" => $"its QOS may not be used with its account or partition ({SlurmFields.Extra(request, "--qos")})",
            "DependencyNeverSatisfied" => $"a job it depends on can no longer end as it requires ({SlurmFields.Extra(request, "--dependency")})",
            _ => null,
        };
        if (never is null && PerJobLimit.Match(code) is { Success: true } limit)
        {
            var what = limit.Groups["what"].Value;
            var owner = limit.Groups["owner"].Value == "QOS" ? "QOS" : "association";
            var minutes = limit.Groups["minutes"].Success;
            var field = (minutes ? $"{SlurmFields.Time(request)}, " : "") + Field(what, request, threads); // minutes: the resource × time
            never = $"it asks for more {Resource(what)}{(minutes ? " × time" : "")} per {limit.Groups["per"].Value.ToLowerInvariant()} " +
                    $"than its {owner} allows ({field})";
        }
        if (never is null && QosMinimum.Match(code) is { Success: true } minimum)
        {
            var what = minimum.Groups["what"].Value;
            never = $"it asks for less than its QOS's minimum of {Resource(what)} ({Field(what, request, threads)})";
        }
        if (never is not null) return (PendingKind.NeverStarts, never);
        var admins = code switch
        {
            "PartitionDown" => "its partition is down",
            "PartitionInactive" => "its partition is inactive",
            "PartitionConfig" => "its partition cannot take it as it is configured now",
            "PartitionNodeLimit" => "its partition's node limits, or the nodes it needs are down or drained",
            "NodeDown" => "a node it needs is down",
            "FrontEndDown" => "no front end node is up",
            "ReqNodeNotAvail" => "the nodes it can use are down, drained or reserved",
            "JobHeldAdmin" => "an administrator holds it",
            "JobHeldUser" => "it is held: `scontrol release` lets it start",
            _ => null,
        };
        return admins is null ? (PendingKind.Waits, null) : (PendingKind.WaitsForAdmins, admins);
    }

    static string Resource(string what) => what switch
    {
        "Cpu" => "CPUs",
        "GRES" => "generic resources (GPUs)",
        "Mem" or "Memory" => "memory",
        "Node" => "nodes",
        "WallDuration" => "time",
        "BB" => "burst buffer",
        "License" => "licenses",
        _ => what.ToLowerInvariant(),
    };

    static string Field(string what, SlurmRequest request, int threads) => what switch
    {
        "Cpu" => SlurmFields.Cpus(request, threads),
        "GRES" => SlurmFields.Gres(request),
        "WallDuration" => SlurmFields.Time(request),
        "Mem" or "Memory" => SlurmFields.Extra(request, "--mem"),
        _ => SlurmFields.Extra(request),
    };
}
