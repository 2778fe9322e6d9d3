using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Execution.Slurm;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tests.Pipeline;

namespace Puzzle.Engine.Tests.Runtime;

/// <summary>Job processes of a real-size parent get huge pages for their large tensors; small parents', and a user's own
/// setting, are left alone.</summary>
public class HugePagesTests
{
    [Fact]
    public void A_real_size_parents_jobs_get_huge_pages_unless_the_user_set_them()
    {
        Assert.Equal(new Dictionary<string, string> { ["THP_MEM_ALLOC_ENABLE"] = "1" }, HugePages.JobEnvironment(1_235_814_400, null));
        Assert.Empty(HugePages.JobEnvironment(6_500_000, null)); // the default and moby-2x parents: small tensors, a few percent slower
        Assert.Empty(HugePages.JobEnvironment(1_235_814_400, "0")); // the user's value stays, whatever it is
        Assert.Single(HugePages.JobEnvironment(HugePages.MinParentParameters, null));
        Assert.Empty(HugePages.JobEnvironment(HugePages.MinParentParameters - 1, null));
    }

    [Fact]
    public void The_micro_pipelines_session_gives_its_jobs_nothing_extra()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        if (Environment.GetEnvironmentVariable(HugePages.Variable) is null) Assert.Empty(session.JobEnvironment);
    }

    [Fact]
    public async Task Job_processes_and_slurm_tasks_get_the_environment()
    {
        using var dir = new TempDir();
        var log = Path.Combine(dir.Path, "job.log");
        // a stand-in for the CLI: prints the variable the job process sees
        var launcher = new ProcessJobLauncher(["/bin/sh", "-c", "echo \"THP=${THP_MEM_ALLOC_ENABLE:-unset} OMP=$OMP_NUM_THREADS\"", "sh"],
            "spec.yaml", dir.Path, environment: new Dictionary<string, string> { [HugePages.Variable] = "1" });
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var job = PipelineSession.Open(repo.SpecPath).Graph.Jobs["Data"].Single();
        Assert.Equal(0, await launcher.LaunchAsync(job, "run1", log, 2, CancellationToken.None));
        Assert.Equal("THP=1 OMP=2", File.ReadAllText(log).Trim());

        var script = SlurmTaskScript.Text(["/opt/puzzle"], "/x/spec.yaml", "/x/store", "run1", null, new Dictionary<string, string> { [HugePages.Variable] = "1" });
        Assert.Contains("OMP_NUM_THREADS=\"$threads\" THP_MEM_ALLOC_ENABLE='1'\n", script.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("THP_MEM_ALLOC_ENABLE", SlurmTaskScript.Text(["/opt/puzzle"], "/x/spec.yaml", "/x/store", "run1"));
    }
}
