using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution.Slurm;

namespace Puzzle.Engine.Tests.Pipeline.Slurm;

/// <summary>
/// <c>pipelines/ci.yaml</c> in a scratch folder with an executor section for the test cluster (or none: local), its own
/// store, optionally seeded with another store's entries.
/// </summary>
public sealed class SlurmRepo : IDisposable
{
    /// <summary>Each task gets one of the cluster's two fake GPUs; a quick poll; one retry.</summary>
    public const string Executor = """

        executor:
          kind: slurm
          slurm: { gres: "gpu:1", poll_seconds: 1, retries: 1 }

        """;

    readonly TempDir _dir = new();

    /// <param name="executor">appended to ci.yaml (default: <see cref="Executor"/>; "" for the local executor)</param>
    /// <param name="seed">a store whose cache entries this one starts with</param>
    /// <param name="edit">changes to ci.yaml's own text, e.g. a bigger budget</param>
    public SlurmRepo(string executor = Executor, string? seed = null, Func<string, string>? edit = null)
    {
        var yaml = File.ReadAllText(OriginalSpec);
        Directory.CreateDirectory(Path.Combine(Root, "pipelines"));
        File.WriteAllText(SpecPath, (edit?.Invoke(yaml) ?? yaml) + executor);
        if (seed is not null) CopyDirectory(Path.Combine(seed, "cache"), Path.Combine(Store, "cache"));
    }

    public static string OriginalSpec => Path.Combine(TestRepo.Source, "pipelines", "ci.yaml");

    /// <summary>ci.yaml's text with the parent pretrained on <paramref name="tokens"/> tokens (a new Parent key).</summary>
    public static string ParentTokens(string yaml, long tokens)
    {
        var pattern = new System.Text.RegularExpressions.Regex(@"(?<=\n  pretrain:\n(    .*\n)*?    tokens: )\d+");
        Assert.Matches(pattern, yaml);
        return pattern.Replace(yaml, tokens.ToString(), 1);
    }

    /// <summary>ci.yaml's text with BLD trained on <paramref name="tokens"/> tokens per variant (a new Distill key).</summary>
    public static string BldTokens(string yaml, long tokens)
    {
        const string from = "\nbld:\n  tokens: 4000\n";
        Assert.Contains(from, yaml);
        return yaml.Replace(from, $"\nbld:\n  tokens: {tokens}\n");
    }

    public string Root => _dir.Path;
    public string SpecPath => Path.Combine(Root, "pipelines", "ci.yaml");
    public string Store => Path.Combine(Root, ".puzzle");

    public PipelineSession Open() => PipelineSession.Open(SpecPath);

    /// <summary>Tasks run the CLI built beside the tests.</summary>
    public SlurmJobLauncher Launcher(PipelineSession session, TextWriter console) => session.SlurmLauncher(["dotnet", Cli.Dll], console);

    public void Edit(string from, string to)
    {
        var text = File.ReadAllText(SpecPath);
        Assert.Contains(from, text);
        File.WriteAllText(SpecPath, text.Replace(from, to));
    }

    static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public void Dispose() => _dir.Dispose();
}
