using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Evaluation.Tasks;
using Puzzle.Engine.Model;
using Puzzle.Engine.Tokenization;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Evaluation;

public class ChoiceScorerTests
{
    const int Vocab = 7, Hidden = 4;

    static double Embed(int token, int j) => Math.Sin(1.3 * token + 0.7 * j + 0.2);
    static double Head(int token, int j) => 2 * Math.Cos(0.9 * token - 1.1 * j);

    /// <summary>
    /// A Llama whose attention and FFN output projections are zero, so every block adds nothing and the logits after a
    /// token are RMSNorm(embedding) · lm_head: a bigram model whose log-probabilities this test computes by hand.
    /// </summary>
    static CausalLM Bigram()
    {
        var config = ModelConfig.Llama(vocab: Vocab, hidden: Hidden, layers: 1, heads: 2, kvHeads: 1, intermediate: 8, maxPositions: 16);
        var model = new CausalLM(config);
        model.LoadWeights(name =>
        {
            var shape = CheckpointValidator.ExpectedShapes(config)[name];
            if (name == "model.embed_tokens.weight") return Matrix(Embed);
            if (name == "lm_head.weight") return Matrix(Head);
            return name.EndsWith("norm.weight", StringComparison.Ordinal) ? ones(shape) : zeros(shape);
        });
        return model;
    }

    static Tensor Matrix(Func<int, int, double> f) =>
        tensor(Enumerable.Range(0, Vocab * Hidden).Select(i => (float)f(i / Hidden, i % Hidden)).ToArray(), [Vocab, Hidden]);

    /// <summary>log p(next | previous) of the bigram model, in doubles, from the formulas alone.</summary>
    static double LogP(int previous, int next)
    {
        var h = Enumerable.Range(0, Hidden).Select(j => Embed(previous, j)).ToArray();
        var rms = Math.Sqrt(h.Sum(x => x * x) / Hidden + 1e-5);
        var logits = Enumerable.Range(0, Vocab).Select(v => Enumerable.Range(0, Hidden).Sum(j => h[j] / rms * Head(v, j))).ToArray();
        var max = logits.Max();
        return logits[next] - (max + Math.Log(logits.Sum(z => Math.Exp(z - max))));
    }

    static double ByHand(ContinuationRequest r)
    {
        var all = r.Context.Concat(r.Continuation).ToArray();
        return Enumerable.Range(r.Context.Length, r.Continuation.Length).Sum(i => LogP(all[i - 1], all[i]));
    }

    [Fact]
    public void Summed_log_likelihoods_match_a_hand_computation_whatever_the_batching_and_padding()
    {
        Fixtures.Torch();
        using var model = Bigram();
        ContinuationRequest[] requests =
        [
            new([0, 3], [5]),
            new([0], [1, 2, 6]),
            new([0, 2, 2, 4], [3, 3]),
            new([0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5], [6, 2]), // 20 tokens: more than the model's 16 positions
        ];
        foreach (var batch in new[] { 1, 3, 16 })
        {
            var scored = ChoiceScorer.LogLikelihoods(model, requests, batch);
            for (var i = 0; i < requests.Length; i++)
                Assert.Equal(ByHand(requests[i]), scored[i], 4);
        }
        Assert.True(ByHand(requests[1]) < ByHand(requests[0])); // three tokens cost more than one: the sums are not means
    }

    [Fact]
    public void Choices_sharing_a_context_read_it_once_and_score_as_if_each_ran_whole()
    {
        Fixtures.Torch();
        // random weights, attention in every layer kind the cache has to repeat (GQA with 2 and 1 KV heads, linear)
        var llama = ModelConfig.Llama(vocab: 11, hidden: 16, layers: 3, heads: 4, kvHeads: 2, intermediate: 24, maxPositions: 16);
        using var model = CausalLM.Initialise(llama with
        {
            Blocks = [llama.Blocks[0], new BlockConfig(AttentionConfig.Gqa(1), FfnConfig.SwiGlu(12)), new BlockConfig(AttentionConfig.Linear, llama.Blocks[2].Ffn)],
        }, seed: 5);
        int[] question = [0, 4, 7, 1, 9, 3];
        ContinuationRequest[] requests =
        [
            new(question, [2, 5, 8]), new(question, [6]), new(question, [10, 1]), new(question, [3, 3, 3, 3]), // one context, four ways
            new([0, 2], [4, 4]), // a context of its own
            new([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3], [4, 5, 6]), new([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3], [7]), // too long together: truncated, run whole
        ];
        var whole = ChoiceScorer.LogLikelihoods(model, requests, batch: 3, shareContexts: false);
        var reported = new List<int>();
        var shared = ChoiceScorer.LogLikelihoods(model, requests, batch: 3, progress: (done, _) => reported.Add(done));
        for (var i = 0; i < requests.Length; i++)
            Assert.Equal(whole[i], shared[i], 4);
        Assert.Equal(requests.Length, reported[^1]);
        Assert.NotEqual(shared[0], shared[1]); // the choices differ: each was continued on its own row
    }

    [Fact]
    public void Acc_takes_the_highest_sum_and_acc_norm_the_highest_sum_per_character()
    {
        var task = new ChoiceTask("t", "t.jsonl",
        [
            new("Q1", ["a", "bbbbbb"], Gold: 1), // sums -2 and -3: acc picks "a"; per character -2 and -0.5: acc_norm picks "bbbbbb"
            new("Q2", ["xx", "yy", "zz"], Gold: 0),
        ]);
        var score = ChoiceScorer.Summarise(task, [-2.0, -3.0, -1.0, -5.0, -1.0]); // Q2 ties at -1: the first choice wins
        Assert.Equal(0.5, score.Accuracy);
        Assert.Equal(1.0, score.AccuracyNorm);
        Assert.Equal(2, score.Examples);
        Assert.Throws<ArgumentException>(() => ChoiceScorer.Summarise(task, [-1.0]));
    }

    [Fact]
    public void A_choice_is_the_tokens_after_the_contexts_in_the_whole_text_joined_by_one_space()
    {
        using var tokenizer = Tokenizer.Load(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"));
        var r = ChoiceScorer.Encode(tokenizer, "Call me Ishmael.", "Some years ago", "test");
        Assert.Equal(tokenizer.Encode("Call me Ishmael.", addBos: true), r.Context);
        Assert.Equal(tokenizer.Encode("Call me Ishmael. Some years ago", addBos: true), r.Context.Concat(r.Continuation));

        var spaced = ChoiceScorer.Encode(tokenizer, "Call me Ishmael. ", "Some years ago", "test"); // the context's space moves to the choice
        Assert.Equal(r.Context, spaced.Context);
        Assert.Equal(r.Continuation, spaced.Continuation);
        Assert.Throws<InvalidDataException>(() => ChoiceScorer.Encode(tokenizer, "x", "", "test.jsonl: example 3"));
    }

    [Fact]
    public void Bigram_model_scores_the_likelier_choice_right()
    {
        Fixtures.Torch();
        using var model = Bigram();
        // after token 0, the likeliest next token by hand; a choice made of it must beat one made of the unlikeliest
        var best = Enumerable.Range(0, Vocab).MaxBy(v => LogP(0, v));
        var worst = Enumerable.Range(0, Vocab).MinBy(v => LogP(0, v));
        var ll = ChoiceScorer.LogLikelihoods(model, [new([0], [worst]), new([0], [best])]);
        Assert.True(ll[1] > ll[0]);
    }
}
