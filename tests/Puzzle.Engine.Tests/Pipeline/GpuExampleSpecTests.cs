using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// The GPU machine's specs (examples/gpu, which scale-check.sh runs there, where device time is scarce and nothing can
/// be fixed mid-run) load, validate and plan here, beside a parent folder of the shape each names (its config.json and a
/// tokenizer: planning reads no weights). A field renamed or a value out of range in one of them fails here, in CI, not
/// in a GPU session.
/// </summary>
public sealed class GpuExampleSpecTests
{
    static string Folder => Path.Combine(TestRepo.Source, "examples", "gpu");

    static IEnumerable<string> Names => Directory.GetFiles(Folder, "*.yaml").Select(f => Path.GetFileName(f)).Order();

    public static TheoryData<string> Specs() => [.. Names];

    /// <summary>The shapes scale_check.py builds, by the folder name the specs give their parent.</summary>
    static readonly Dictionary<string, ModelConfig> Shapes = new()
    {
        ["parent-1b"] = ModelConfig.Llama(vocab: 128256, hidden: 2048, layers: 16, heads: 32, kvHeads: 8, intermediate: 8192, tie: true),
        ["parent-8b"] = ModelConfig.Llama(vocab: 128256, hidden: 4096, layers: 32, heads: 32, kvHeads: 8, intermediate: 14336),
        ["parent-tiny"] = ModelConfig.Llama(vocab: 32768, hidden: 256, layers: 4, heads: 8, kvHeads: 4, intermediate: 1024, tie: true),
    };

    [Fact]
    public void There_are_gpu_specs_to_check() => Assert.Contains("scale1b-graphs.yaml", Names);

    [Theory]
    [MemberData(nameof(Specs))]
    public void A_gpu_example_spec_plans_its_jobs(string name)
    {
        using var dir = new TempDir();
        var session = Open(dir, name, File.ReadAllText(Path.Combine(Folder, name)));

        Assert.True(Shapes.ContainsKey(Path.GetFileName(session.Spec.Parent.Path!)), $"{name}: parent.path {session.Spec.Parent.Path}");
        Assert.Contains(session.Graph.JobsFor("Publish"), j => j.Stage.Name == "Heal");
    }

    /// <summary>On an H200 or an H100 shared by two jobs (<c>executor.jobs_per_gpu: 2</c>, as the 1B spec has it), the 1B
    /// shape's processes are all planned within a job's share, so they share the GPU as before; a Heal process of the 8B
    /// shape's child is not, so the executor runs it alone on the GPU rather than beside another that would make both
    /// run out.</summary>
    [Theory]
    [InlineData("scale1b.yaml", 143_771, new string[0])]
    [InlineData("scale1b.yaml", 81_559, new string[0])]
    [InlineData("scale8b-heal.yaml", 143_771, new[] { "Heal/child1" })]
    public void On_a_gpu_shared_by_two_jobs_only_the_8b_childs_heal_process_is_planned_over_its_share(string name, long mebibytes, string[] over)
    {
        using var dir = new TempDir();
        using var pretend = PlanMemory.Pretend(kind => kind == DeviceKind.Cuda ? mebibytes << 20 : null);
        var text = File.ReadAllText(Path.Combine(Folder, name)).Replace("executor: { kind: local, jobs: 1 }", "executor: { kind: local, jobs: 2, jobs_per_gpu: 2 }");
        var session = Open(dir, name, text);
        Assert.Equal(2, session.Spec.Executor.JobsPerGpu);
        var share = PlanMemory.Share(session.Spec)!.Value;

        var planned = session.Graph.JobsFor("Publish").Select(j => (j.Name, Bytes: j.Stage.PlannedMemory(
            [j, .. j.Stage.Companions(j, session.Graph.Jobs[j.Stage.Name], session.Spec)], session.Spec))).ToList();
        Assert.Contains(planned, p => p.Name.StartsWith("Heal/", StringComparison.Ordinal) && p.Bytes is not null);
        Assert.Equal(over, planned.Where(p => p.Bytes > share).Select(p => p.Name));
    }

    /// <summary>A folder with the shapes' parents (config and tokenizer), a little text and the spec
    /// <paramref name="text"/> as <paramref name="name"/>, opened as a pipeline.</summary>
    static PipelineSession Open(TempDir dir, string name, string text)
    {
        foreach (var (folder, config) in Shapes)
        {
            var parent = Path.Combine(dir.Path, folder);
            HfConfig.Write(config, parent);
            File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"), Path.Combine(parent, "tokenizer.json"));
        }
        SyntheticText.WriteCorpus(Path.Combine(dir.Path, "text"), files: 2, sentences: 20);
        var spec = Path.Combine(dir.Path, name);
        File.WriteAllText(spec, text);
        return PipelineSession.Open(spec, Path.Combine(dir.Path, ".puzzle"));
    }
}
