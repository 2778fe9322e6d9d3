using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A throwaway project folder with pipelines/, local text and its own .puzzle store.</summary>
public sealed class TestRepo : IDisposable
{
    readonly TempDir _dir = new();

    public TestRepo(string yaml)
    {
        SyntheticText.WriteCorpus(Path.Combine(Root, "text"), files: 4, sentences: 60);
        Directory.CreateDirectory(Path.Combine(Root, "pipelines"));
        SpecPath = Path.Combine(Root, "pipelines", "test.yaml");
        Write(yaml);
    }

    public string Root => _dir.Path;
    public string SpecPath { get; }
    public string Store => Path.Combine(Root, ".puzzle");

    public void Write(string yaml) => File.WriteAllText(SpecPath, yaml);
    public void Edit(string from, string to)
    {
        var text = File.ReadAllText(SpecPath);
        Assert.Contains(from, text);
        Write(text.Replace(from, to));
    }

    public PipelineSpec Load() => SpecLoader.Load(SpecPath);

    /// <summary>The repository this test runs from (holds Puzzle.sln).</summary>
    public static string Source
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Puzzle.sln"))) return dir.FullName;
            throw new InvalidOperationException("Puzzle.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public const string MicroSpec = """
        name: test
        parent:
          pretrain: { vocab_size: 300, hidden: 32, layers: 2, heads: 4, kv_heads: 2, intermediate: 64, tokens: 3000, batch: 4 }
        data:
          train: [text/*.txt]
          seq_len: 16
          heldout_fraction: 0.1
        search_space:
          attention: { kv_heads: [1] }
          ffn: { ratios: [0.5, 0.25], round_to: 16 }
        bld:
          lr: 0.001
          tokens: 2000
        constraints:
          throughput_vs_parent: 1.5
        evaluation:
          tokens: 400
        executor:
          jobs: 2
        """;

    public void Dispose() => _dir.Dispose();
}
