using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;

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
        foreach (var (folder, config) in Shapes)
        {
            var parent = Path.Combine(dir.Path, folder);
            HfConfig.Write(config, parent);
            File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"), Path.Combine(parent, "tokenizer.json"));
        }
        SyntheticText.WriteCorpus(Path.Combine(dir.Path, "text"), files: 2, sentences: 20);
        var spec = Path.Combine(dir.Path, name);
        File.Copy(Path.Combine(Folder, name), spec);

        var session = PipelineSession.Open(spec, Path.Combine(dir.Path, ".puzzle"));

        Assert.True(Shapes.ContainsKey(Path.GetFileName(session.Spec.Parent.Path!)), $"{name}: parent.path {session.Spec.Parent.Path}");
        Assert.Contains(session.Graph.JobsFor("Publish"), j => j.Stage.Name == "Heal");
    }
}
