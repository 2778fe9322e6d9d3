using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Model;

/// <summary>Greedy generation limited to the ids a tokenizer has: an embedding with more rows than the tokenizer has
/// tokens (the scale check's 1B shape: 128,256 rows, a 32,000-token tokenizer) must not generate an id that cannot be
/// decoded.</summary>
public class GenerationTests
{
    static readonly long[] Prompt = [1, 5, 9, 2];

    static CausalLM Model()
    {
        Fixtures.Torch();
        return CausalLM.Initialise(ModelConfig.Llama(vocab: 97, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48), seed: 3);
    }

    /// <summary>The id the head prefers after the prompt, and the one it prefers among ids below a limit.</summary>
    static (long Free, long Below) FirstChoices(CausalLM model, int limit)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var logits = model.ForwardLast(tensor(Prompt).unsqueeze(0))[0];
        return (logits.argmax().item<long>(), logits.narrow(0, 0, limit).argmax().item<long>());
    }

    [Fact]
    public void Only_ids_below_the_vocabulary_are_generated()
    {
        using var model = Model();
        var free = model.GenerateGreedy(Prompt, 12);
        var limit = (int)free.Max(); // the largest id generated freely is then out of bounds
        Assert.True(limit > 0, "the model generated only id 0 (choose another seed)");

        var limited = model.GenerateGreedy(Prompt, 12, vocabulary: limit);

        Assert.All(limited, id => Assert.InRange(id, 0, limit - 1));
        var (first, below) = FirstChoices(model, limit);
        Assert.Equal(free[0], first);
        Assert.Equal(below, limited[0]); // the best id the tokenizer has, not merely some id below the limit
    }

    [Fact]
    public void A_vocabulary_at_least_the_heads_changes_nothing()
    {
        using var model = Model();
        var free = model.GenerateGreedy(Prompt, 8);
        Assert.Equal(free, model.GenerateGreedy(Prompt, 8, vocabulary: 97));
        Assert.Equal(free, model.GenerateGreedy(Prompt, 8, vocabulary: 200)); // a tokenizer with more ids than the head has rows
    }

    [Fact]
    public void An_empty_vocabulary_is_refused()
    {
        using var model = Model();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.GenerateGreedy(Prompt, 4, vocabulary: 0));
        Assert.Equal("vocabulary", e.ParamName);
    }
}
