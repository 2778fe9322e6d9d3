using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Spec;

/// <summary>
/// Every file in Spec/Malformed/ is a spec with one mistake and a first line <c># expect: LINE:COL: substring</c>:
/// loading it must give exactly one error, at exactly that position, whose message contains the substring.
/// </summary>
public sealed class MalformedSpecTests
{
    static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Spec", "Malformed");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Folder, "*.yaml").Order(StringComparer.Ordinal)) data.Add(Path.GetFileName(file));
        return data;
    }

    [Fact]
    public void The_corpus_is_there()
    {
        Assert.True(Cases().Count >= 20, $"expected the malformed corpus in {Folder}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gives_the_expected_error(string name)
    {
        var path = Path.Combine(Folder, name);
        var (line, column, message) = Expectation(path);

        var e = Assert.Throws<SpecException>(() => SpecLoader.Load(path));

        var error = Assert.Single(e.Errors);
        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.Contains(message, error.Message);
        Assert.Equal((path, line, column), (e.File, e.Line, e.Column));
        Assert.StartsWith($"{path}:{line}:{column}: error: ", e.Message);
    }

    static (int Line, int Column, string Message) Expectation(string path)
    {
        const string prefix = "# expect: ";
        var first = File.ReadLines(path).First();
        Assert.StartsWith(prefix, first);
        var parts = first[prefix.Length..].Split(':', 3);
        return (int.Parse(parts[0]), int.Parse(parts[1]), parts[2].Trim());
    }
}
