using Puzzle.Engine.Evaluation.Tasks;

namespace Puzzle.Engine.Tests.Evaluation;

public sealed class ChoiceTaskFileTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    string Write(string name, params string[] lines)
    {
        var path = _dir[name];
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    [Fact]
    public void Reads_the_harness_shape_and_its_common_aliases()
    {
        var path = Write("mixed.jsonl",
            """{"query": "The sky is", "choices": ["blue", "green"], "gold": 0}""",
            "",
            """{"ctx": "A man sits", "endings": ["down", "up", "away"], "label": "2"}""",
            """{"question": "Which?", "choices": {"text": ["one", "two"], "label": ["A", "B"]}, "answerKey": "B"}""",
            """{"context": "x", "options": ["p", "q"], "answer": 1}""");
        var task = ChoiceTaskFile.Read(path);
        Assert.Equal("mixed", task.Name);
        Assert.Equal(4, task.Examples.Count);
        Assert.Equal(("The sky is", 0), (task.Examples[0].Context, task.Examples[0].Gold));
        Assert.Equal(["blue", "green"], task.Examples[0].Choices);
        Assert.Equal(("A man sits", 2), (task.Examples[1].Context, task.Examples[1].Gold));
        Assert.Equal(["one", "two"], task.Examples[2].Choices);
        Assert.Equal(1, task.Examples[2].Gold);
        Assert.Equal(1, task.Examples[3].Gold);

        ChoiceTaskFile.Write(_dir["back.jsonl"], task); // written in the primary shape, read back the same
        var back = ChoiceTaskFile.Read(_dir["back.jsonl"]);
        Assert.Equal(task.Examples.Select(e => (e.Context, string.Join("|", e.Choices), e.Gold)), back.Examples.Select(e => (e.Context, string.Join("|", e.Choices), e.Gold)));
        Assert.Contains("\"query\":", File.ReadAllText(_dir["back.jsonl"]));
    }

    [Theory]
    [InlineData("""{"choices": ["a", "b"], "gold": 0}""", "no field for the context (expected 'query'")]
    [InlineData("""{"query": "q", "gold": 0}""", "no field for the choices")]
    [InlineData("""{"query": "q", "choices": ["a"], "gold": 0}""", "field 'choices' must be a list of at least two strings")]
    [InlineData("""{"query": "q", "choices": ["a", 3], "gold": 0}""", "field 'choices[1]' must be a non-empty string")]
    [InlineData("""{"query": "q", "choices": ["a", "b"], "gold": 2}""", "field 'gold' is 2, outside the 2 choices (0..1)")]
    [InlineData("""{"query": "q", "choices": ["a", "b"], "label": "first"}""", "field 'label' must be an integer index")]
    [InlineData("""{"query": 5, "choices": ["a", "b"], "gold": 0}""", "field 'query' must be a string")]
    [InlineData("""{"query": "q", "choices": ["a", "b"], "gold": 0""", "not a JSON object")]
    public void A_bad_line_is_an_error_naming_the_file_the_line_and_the_field(string bad, string expected)
    {
        var path = Write("task.jsonl", """{"query": "fine", "choices": ["a", "b"], "gold": 1}""", "", bad);
        var e = Assert.Throws<InvalidDataException>(() => ChoiceTaskFile.Read(path));
        Assert.StartsWith($"{path}:3: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_line_that_is_no_utf8_text_is_an_error_naming_the_file_and_the_line()
    {
        var path = Write("latin1.jsonl", """{"query": "fine", "choices": ["a", "b"], "gold": 1}""");
        File.AppendAllBytes(path, [.. "{\"query\": \"caf"u8, 0xE9, .. "\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n"u8]); // é in Latin-1
        var e = Assert.Throws<InvalidDataException>(() => ChoiceTaskFile.Read(path));
        Assert.StartsWith($"{path}:2: not UTF-8 text", e.Message);
    }

    [Fact]
    public void A_missing_or_empty_file_says_so()
    {
        Assert.Contains("task file not found", Assert.Throws<FileNotFoundException>(() => ChoiceTaskFile.Read(_dir["none.jsonl"])).Message);
        Assert.Contains("no examples", Assert.Throws<InvalidDataException>(() => ChoiceTaskFile.Read(Write("empty.jsonl", "", "  "))).Message);
    }
}
