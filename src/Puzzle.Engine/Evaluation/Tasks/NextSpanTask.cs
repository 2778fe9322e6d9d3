using System.Text.RegularExpressions;
using Puzzle.Engine.Data;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Evaluation.Tasks;

/// <summary>Settings of <see cref="NextSpanTask"/>.</summary>
/// <param name="Examples">questions at most (fewer when the sequences run out)</param>
/// <param name="Choices">candidate continuations per question, the true one included</param>
/// <param name="SpanWords">words per candidate continuation</param>
public sealed record NextSpanOptions(int Examples = 200, int Choices = 4, int SpanWords = 8, ulong Seed = 0);

/// <summary>
/// A multiple-choice task made from held-out text, so that every pipeline has a benchmark-style task without
/// downloads: each question is the text of one held-out sequence up to its last <c>SpanWords</c> words, and the
/// choices are those words and spans of as many words drawn from other held-out sequences, in a seeded order. A model
/// that follows the text picks the true continuation; a unigram model is near chance, since every span is real text.
/// </summary>
/// <remarks>
/// A sequence is a window of the packed token stream, so its first and last words may be cut mid-word: both are left
/// out; where a document starts inside the window, only the text after that start is used. Spans are compared with runs of whitespace made one space, so layout (a line break) gives nothing away.
/// </remarks>
public static class NextSpanTask
{
    public const string Name = "heldout-next-span";
    /// <summary>Words the context keeps at least, beside the span.</summary>
    const int MinContextWords = 8;
    /// <summary>Passages decoded per question asked: the questions' own and a pool the distractors are drawn from.</summary>
    const int PoolPerExample = 4;
    static readonly Regex Word = new(@"\S+", RegexOptions.CultureInvariant);

    /// <param name="sequences">the held-out sequences to draw from, in the order questions are made</param>
    public static ChoiceTask Build(TokenDataset data, IReadOnlyList<long> sequences, Tokenizer tokenizer, NextSpanOptions options, string source = Name)
    {
        if (options.Choices < 2) throw new ArgumentOutOfRangeException(nameof(options), options.Choices, "a question needs at least two choices");
        if (options.SpanWords < 1) throw new ArgumentOutOfRangeException(nameof(options), options.SpanWords, "a span needs at least one word");
        var texts = sequences.Select(i => Usable(tokenizer.Decode(LastDocument(data.ReadSequence(i), data.Manifest.Tokenizer.BosId)), options.SpanWords))
            .Where(t => t is not null).Select(t => t!.Value)
            .Take(PoolPerExample * options.Examples + options.Choices) // a large held-out split is not decoded whole
            .ToList();
        var examples = new List<ChoiceExample>();
        if (texts.Count < options.Choices) return new ChoiceTask(Name, source, examples);
        var random = new SplitMix(options.Seed);
        for (var q = 0; q < texts.Count && examples.Count < options.Examples; q++)
        {
            var (text, words) = texts[q];
            var cut = words[^(options.SpanWords + 1)].Index; // the span ends before the (possibly cut) last word
            var context = text[words[1].Index..cut].TrimEnd();
            var answer = Span(text, words, words.Count - 1 - options.SpanWords, options.SpanWords);
            var choices = new List<string> { answer };
            for (var tries = 0; choices.Count < options.Choices && tries < 50 * options.Choices; tries++)
            {
                var other = (int)random.Next((ulong)texts.Count);
                if (other == q) continue;
                var (otherText, otherWords) = texts[other];
                var first = 1 + (int)random.Next((ulong)(otherWords.Count - 1 - options.SpanWords));
                var span = Span(otherText, otherWords, first, options.SpanWords);
                if (!choices.Contains(span, StringComparer.Ordinal)) choices.Add(span);
            }
            if (choices.Count < options.Choices) continue; // too little distinct text to draw from
            var gold = (int)random.Next((ulong)options.Choices);
            (choices[0], choices[gold]) = (choices[gold], choices[0]);
            examples.Add(new ChoiceExample(context, choices, gold));
        }
        return new ChoiceTask(Name, source, examples);
    }

    /// <summary>The tokens after the last document start in a sequence: a context never runs across two documents.</summary>
    static int[] LastDocument(int[] ids, int bos) => ids[(Array.LastIndexOf(ids, bos) + 1)..];

    /// <summary>The decoded text and its words when it has room for a context and a span inside its cut ends.</summary>
    static (string Text, IReadOnlyList<Match> Words)? Usable(string text, int spanWords)
    {
        var words = Word.Matches(text);
        return words.Count >= 2 + MinContextWords + spanWords ? (text, words.ToList()) : null;
    }

    static string Span(string text, IReadOnlyList<Match> words, int first, int count) =>
        string.Join(' ', Enumerable.Range(first, count).Select(i => words[i].Value));

    /// <summary>SplitMix64: the same sequence on every platform and .NET version, unlike a seeded System.Random.</summary>
    sealed class SplitMix(ulong seed)
    {
        ulong _state = seed;

        public ulong Next(ulong bound)
        {
            var z = _state += 0x9e3779b97f4a7c15UL;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
            return (z ^ (z >> 31)) % bound;
        }
    }
}
