using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Execution.Slurm;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tests.Pipeline;

namespace Puzzle.Engine.Tests.Runtime;

/// <summary>Job processes of a real-size parent get huge pages for their large tensors; small parents', timing jobs',
/// and a user's own setting are left alone.</summary>
public class HugePagesTests
{
    [Fact]
    public void A_real_size_parents_jobs_get_huge_pages_unless_they_time_or_the_user_set_them()
    {
        Assert.Equal(new Dictionary<string, string> { ["THP_MEM_ALLOC_ENABLE"] = "1" }, HugePages.JobEnvironment(1_235_814_400, null, timing: false));
        Assert.Empty(HugePages.JobEnvironment(1_235_814_400, null, timing: true)); // Measure, Search, Speed: as their costs were studied
        Assert.Empty(HugePages.JobEnvironment(6_500_000, null, timing: false)); // the default and moby-2x parents: small tensors, a few percent slower
        Assert.Empty(HugePages.JobEnvironment(1_235_814_400, "0", timing: false)); // the user's value stays, whatever it is
        Assert.Single(HugePages.JobEnvironment(HugePages.MinParentParameters, null, timing: false));
        Assert.Empty(HugePages.JobEnvironment(HugePages.MinParentParameters - 1, null, timing: false));
    }

    [Fact]
    public void The_micro_pipelines_jobs_get_nothing_extra()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        Assert.All(session.Graph.JobsFor(null).Select(j => j.Stage).Distinct(), s => Assert.Empty(session.JobEnvironment(s)));
    }

    [Fact]
    public async Task Job_processes_and_slurm_arrays_get_their_stages_environment()
    {
        using var dir = new TempDir();
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var graph = PipelineSession.Open(repo.SpecPath).Graph;
        // a stand-in for the CLI: prints the variable the job process sees
        var launcher = new ProcessJobLauncher(["/bin/sh", "-c", "echo \"THP=${THP_MEM_ALLOC_ENABLE:-unset} OMP=$OMP_NUM_THREADS\"", "sh"],
            "spec.yaml", dir.Path, environment: stage => stage.Exclusive ? new Dictionary<string, string>() : new Dictionary<string, string> { [HugePages.Variable] = "1" });
        async Task<string> Launch(string stage)
        {
            var log = Path.Combine(dir.Path, stage + ".log");
            Assert.Equal(0, await launcher.LaunchAsync(graph.Jobs[stage][0], "run1", log, 2, CancellationToken.None));
            return File.ReadAllText(log).Trim();
        }
        Assert.Equal("THP=1 OMP=2", await Launch("Data"));
        Assert.Equal("THP=unset OMP=2", await Launch("Measure"));

        Assert.Equal("--export=ALL,THP_MEM_ALLOC_ENABLE=1", SlurmJobLauncher.Export(new Dictionary<string, string> { [HugePages.Variable] = "1" }));
        Assert.Null(SlurmJobLauncher.Export(new Dictionary<string, string>()));
        Assert.Throws<ArgumentException>(() => SlurmJobLauncher.Export(new Dictionary<string, string> { ["A"] = "1,2" }));
    }
}
