namespace Puzzle.Engine.Tests.Spec;

/// <summary>The source checkout the tests run from, for tests that read committed files (pipelines/, the schema).</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    public static string Pipelines => Path.Combine(Root, "pipelines");

    static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Puzzle.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Puzzle.sln above {AppContext.BaseDirectory}");
    }
}
