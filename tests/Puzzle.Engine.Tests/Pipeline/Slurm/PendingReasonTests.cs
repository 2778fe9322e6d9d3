using Puzzle.Engine.Pipeline.Execution.Slurm;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Pipeline.Slurm;

/// <summary>Slurm's reasons for a pending task, read as the run reads them: a wait, a task that can never start as
/// submitted (failed, naming the spec field behind what it asked for), or one that waits for the cluster's admins.</summary>
public sealed class PendingReasonTests
{
    static readonly SlurmSpec Spec = new() { Partition = "gpu", Time = "48:00:00", Extra = ["--account=proj"] };

    [Theory]
    [InlineData("Priority")]
    [InlineData("Resources")]
    [InlineData("JobArrayTaskLimit")]
    [InlineData("None")]
    [InlineData("BeginTime")]
    [InlineData("Licenses")]
    [InlineData("QOSMaxJobsPerUserLimit")]      // the user's running jobs: ends as they end
    [InlineData("QOSMaxGRESPerUser")]
    [InlineData("AssocGrpGRES")]
    [InlineData("AssocMaxJobsLimit")]
    [InlineData("QOSGrpCpuLimit")]
    [InlineData("SomeReasonOfANewerSlurm")]
    public void A_wait_that_ends_by_itself_is_a_wait(string reason)
    {
        var (kind, why) = PendingReason.Read(reason, new SlurmRequest(Spec, "Distill", "gpu:1"), 4);
        Assert.Equal(PendingKind.Waits, kind);
        Assert.Null(why);
    }

    [Theory]
    [InlineData("PartitionTimeLimit", "its time limit is above its partition's (executor.slurm.time is '48:00:00')")]
    [InlineData("QOSMaxWallDurationPerJobLimit", "it asks for more time per job than its QOS allows (executor.slurm.time is '48:00:00')")]
    [InlineData("AssocMaxWallDurationPerJobLimit", "it asks for more time per job than its association allows (executor.slurm.time is '48:00:00')")]
    [InlineData("QOSMaxGRESPerJob", "it asks for more generic resources (GPUs) per job than its QOS allows (--gres=gpu:1 from executor.slurm.gres)")]
    [InlineData("QOSMaxGRESPerNode", "it asks for more generic resources (GPUs) per node than its QOS allows (--gres=gpu:1 from executor.slurm.gres)")]
    [InlineData("QOSMaxCpuPerJobLimit", "it asks for more CPUs per job than its QOS allows (4 CPUs per task from executor.threads_per_job)")]
    [InlineData("AssocMaxCpuMinutesPerJobLimit",
        "it asks for more CPUs × time per job than its association allows (executor.slurm.time is '48:00:00', 4 CPUs per task from executor.threads_per_job)")]
    [InlineData("QOSMaxGRESMinutesPerJob",
        "it asks for more generic resources (GPUs) × time per job than its QOS allows (executor.slurm.time is '48:00:00', --gres=gpu:1 from executor.slurm.gres)")]
    [InlineData("QOSMaxMemoryPerJob", "it asks for more memory per job than its QOS allows (executor.slurm.extra: --account=proj)")]
    [InlineData("QOSMinCpuNotSatisfied", "it asks for less than its QOS's minimum of CPUs (4 CPUs per task from executor.threads_per_job)")]
    [InlineData("QOSMinGRES", "it asks for less than its QOS's minimum of generic resources (GPUs) (--gres=gpu:1 from executor.slurm.gres)")]
    [InlineData("InvalidQOS", "its QOS is not valid (executor.slurm.extra: --account=proj)")]
    [InlineData("AccountNotAllowed", "its account may not use its partition (executor.slurm.partition is 'gpu', executor.slurm.extra: --account=proj)")]
    [InlineData("BadConstraints", "no node of its partition has the features or resources it asks for (--gres=gpu:1 from executor.slurm.gres, executor.slurm.extra: --account=proj)")]
    public void A_request_above_a_per_job_limit_never_starts_and_names_its_spec_field(string reason, string expected)
    {
        var (kind, why) = PendingReason.Read(reason, new SlurmRequest(Spec, "Distill", "gpu:1"), 4);
        Assert.Equal(PendingKind.NeverStarts, kind);
        Assert.Equal(expected, why);
    }

    [Theory]
    [InlineData("PartitionDown", "its partition is down")]
    [InlineData("ReqNodeNotAvail, UnavailableNodes:node[01-02]", "the nodes it can use are down, drained or reserved")]
    [InlineData("JobHeldUser", "it is held: `scontrol release` lets it start")]
    [InlineData("PartitionNodeLimit", "its partition's node limits, or the nodes it needs are down or drained")]
    public void A_cluster_that_must_change_is_said_and_waited_for(string reason, string expected)
    {
        var (kind, why) = PendingReason.Read(reason, new SlurmRequest(Spec, "Distill", "gpu:1"), 4);
        Assert.Equal(PendingKind.WaitsForAdmins, kind);
        Assert.Equal(expected, why);
        Assert.DoesNotContain(",", PendingReason.Code(reason));
    }

    /// <summary>A stage with an entry of its own in executor.slurm.stages: the fields named are the entry's where it sets
    /// them, executor.slurm's where it does not, and both extras in the order sbatch gets them.</summary>
    [Theory]
    [InlineData("Heal", "PartitionTimeLimit", "its time limit is above its partition's (executor.slurm.stages[1] (Heal).time is '12:00:00')")]
    [InlineData("Heal", "QOSMaxGRESPerJob", "it asks for more generic resources (GPUs) per job than its QOS allows (--gres=gpu:2 from executor.slurm.stages[1] (Heal).gres)")]
    [InlineData("Heal", "QOSMaxMemoryPerJob", "it asks for more memory per job than its QOS allows (executor.slurm.extra: --account=proj; executor.slurm.stages[1] (Heal).extra: --mem=200G)")]
    [InlineData("Heal", "AccountNotAllowed", "its account may not use its partition (executor.slurm.partition is 'gpu', executor.slurm.extra: --account=proj; executor.slurm.stages[1] (Heal).extra: --mem=200G)")]
    [InlineData("Fetch", "AccountNotAllowed", "its account may not use its partition (executor.slurm.stages[0] (Fetch).partition is 'cpu', executor.slurm.extra: --account=proj)")]
    [InlineData("Distill", "PartitionTimeLimit", "its time limit is above its partition's (executor.slurm.time is '48:00:00')")]
    [InlineData("Fetch", "QOSMaxCpuPerJobLimit", "it asks for more CPUs per job than its QOS allows (4 CPUs per task from executor.slurm.stages[0] (Fetch).threads_per_job)")]
    [InlineData("Heal", "QOSMaxCpuPerJobLimit", "it asks for more CPUs per job than its QOS allows (4 CPUs per task from executor.threads_per_job)")]
    public void A_stages_own_request_names_the_stages_entry(string stage, string reason, string expected)
    {
        var spec = Spec with
        {
            Stages = [new SlurmStageSpec { Stage = "Fetch", Partition = "cpu", ThreadsPerJob = 4 }, new SlurmStageSpec { Stage = "heal", Time = "12:00:00", Gres = "gpu:2", Extra = ["--mem=200G"] }],
        };
        var (kind, why) = PendingReason.Read(reason, new SlurmRequest(spec, stage, "gpu:1"), 4);
        Assert.Equal(PendingKind.NeverStarts, kind);
        Assert.Equal(expected, why);
    }

    [Fact]
    public void Without_extra_options_the_field_says_the_cluster_chooses()
    {
        var (_, why) = PendingReason.Read("InvalidAccount", new SlurmRequest(new SlurmSpec(), "Fetch", null), 1);
        Assert.Equal("its account is not valid (executor.slurm.extra sets no --account: the cluster's default)", why);
        (_, why) = PendingReason.Read("QOSMaxGRESPerJob", new SlurmRequest(new SlurmSpec(), "Fetch", null), 1);
        Assert.Equal("it asks for more generic resources (GPUs) per job than its QOS allows (no --gres: executor.slurm.gres is not set)", why);
    }
}
