using System.Text.RegularExpressions;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation.Tasks;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Tests.Evaluation;

public sealed class NextSpanTaskTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly Tokenizer _tokenizer = Tokenizer.Load(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"));

    public void Dispose()
    {
        _tokenizer.Dispose();
        _dir.Dispose();
    }

    TokenDataset Heldout()
    {
        var glob = SyntheticText.WriteCorpus(_dir["text"], files: 8, sentences: 200); // the evaluation part holds about half of it
        TokenDatasetBuilder.Build(_tokenizer, new DataBuildOptions { Inputs = [glob], SeqLen = 64, HeldoutFraction = 0.5, Seed = 3 }, _dir["data"]);
        return TokenDataset.Open(_dir["data"], DataSplit.Evaluation);
    }

    static string Words(string s) => Regex.Replace(s, @"\s+", " ").Trim();

    [Fact]
    public void Each_question_continues_one_held_out_passage_with_its_true_words_and_offers_other_passages_words_as_the_rest()
    {
        using var heldout = Heldout();
        var all = Enumerable.Range(0, (int)heldout.Count).Select(i => (long)i).ToList();
        var options = new NextSpanOptions(Examples: 30, Choices: 4, SpanWords: 6, Seed: 1);
        var task = NextSpanTask.Build(heldout, all, _tokenizer, options);
        Assert.Equal(30, task.Examples.Count);
        var passages = all.Select(i => Words(_tokenizer.Decode(heldout.ReadSequence(i)))).ToList();
        foreach (var e in task.Examples)
        {
            Assert.Equal(4, e.Choices.Distinct().Count());
            Assert.All(e.Choices, c => Assert.Equal(6, c.Split(' ').Length));
            var source = Assert.Single(passages, p => p.Contains(Words(e.Context) + " ", StringComparison.Ordinal));
            Assert.Contains(Words(e.Context) + " " + e.Choices[e.Gold], source);
            Assert.All(e.Choices.Where((_, c) => c != e.Gold), c => Assert.DoesNotContain(Words(e.Context) + " " + c, source));
        }
        // the true answer's place is drawn, so every place occurs; and the draw is the seed's alone
        Assert.Equal([0, 1, 2, 3], task.Examples.Select(e => e.Gold).Distinct().Order());
        var again = NextSpanTask.Build(heldout, all, _tokenizer, options);
        Assert.Equal(task.Examples.Select(e => e.Context + string.Concat(e.Choices) + e.Gold), again.Examples.Select(e => e.Context + string.Concat(e.Choices) + e.Gold));
        var other = NextSpanTask.Build(heldout, all, _tokenizer, options with { Seed = 2 });
        Assert.NotEqual(task.Examples.Select(e => e.Gold), other.Examples.Select(e => e.Gold));
    }

    [Fact]
    public void Too_little_text_gives_no_questions_rather_than_repeated_choices()
    {
        using var heldout = Heldout();
        var task = NextSpanTask.Build(heldout, [0, 1], _tokenizer, new NextSpanOptions(Choices: 4));
        Assert.Empty(task.Examples);
    }
}
