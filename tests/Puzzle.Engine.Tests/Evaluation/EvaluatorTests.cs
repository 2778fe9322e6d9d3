using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Evaluation;

public class EvaluatorTests
{
    static ModelConfig Small => ModelConfig.Llama(vocab: 50, hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 64);

    static IEnumerable<Tensor> Batches(Tensor all, int batch) =>
        Enumerable.Range(0, (int)(all.shape[0] / batch)).Select(i => all[(i * batch)..((i + 1) * batch)]);

    /// <summary>Token ids from a generator of the test's own: torch's global one is shared with the tests running beside
    /// this one (a draw from it once gave this class other tokens, and a failure, in one run of the suite).</summary>
    static Tensor Tokens(ulong seed)
    {
        using var generator = new Generator(seed);
        return randint(0, 50, [8, 17], dtype: int64, generator: generator);
    }

    [Fact]
    public void A_model_against_itself_has_zero_kl_and_full_agreement()
    {
        Fixtures.Torch();
        using var model = CausalLM.Initialise(Small, seed: 1);
        using var tokens = Tokens(1);
        var m = Evaluator.Evaluate(model, Batches(tokens, 4), teacher: model);
        Assert.Equal(8 * 16, m.Tokens);
        Assert.Equal(0, m.Kl!.Value, 6);
        Assert.Equal(1.0, m.Agreement!.Value);
        Assert.Equal(Math.Exp(m.Loss), m.Perplexity, 9);
    }

    [Fact]
    public void Metrics_match_a_direct_computation_and_do_not_depend_on_batching()
    {
        Fixtures.Torch();
        using var model = CausalLM.Initialise(Small, seed: 2);
        using var teacher = CausalLM.Initialise(Small, seed: 3);
        using var tokens = Tokens(2);
        var a = Evaluator.Evaluate(model, Batches(tokens, 1), teacher);
        var b = Evaluator.Evaluate(model, Batches(tokens, 8), teacher);
        // tolerances, not rounding to n decimals: values 1e-8 to 3e-8 apart (25 token draws) round to different 6th
        // decimals in 1-3% of draws, which made this test fail now and then while its tokens came from torch's shared
        // global generator
        Assert.Equal(a.Loss, b.Loss, tolerance: 1e-9);
        Assert.Equal(a.Kl!.Value, b.Kl!.Value, tolerance: 1e-9);
        Assert.True(a.Kl > 0.001);

        using var _ = no_grad();
        using var scope = NewDisposeScope(); // holds the temporaries passed straight into native calls below
        var logits = model.Forward(tokens[.., ..^1]).to(float64);
        var teacherLogits = teacher.Forward(tokens[.., ..^1]).to(float64);
        var targets = tokens[.., 1..];
        var loss = nn.functional.cross_entropy(logits.reshape(-1, 50), targets.reshape(-1)).item<double>();
        var kl = nn.functional.kl_div(logits.log_softmax(-1), teacherLogits.log_softmax(-1), reduction: nn.Reduction.Sum, log_target: true).item<double>() / (8 * 16);
        var top1 = logits.argmax(-1).eq(targets).to(float64).mean().item<double>();
        // the metrics compute in float32 slices (summed in float64): equal to a float64 computation within 1e-6
        Assert.Equal(loss, a.Loss, tolerance: 1e-6);
        Assert.Equal(kl, a.Kl.Value, tolerance: 1e-6);
        Assert.Equal(top1, a.Top1, 9);
    }

    [Fact]
    public void Several_models_against_one_pass_of_the_teacher_get_exactly_what_each_gets_alone()
    {
        Fixtures.Torch();
        using var first = CausalLM.Initialise(Small, seed: 4);
        using var second = CausalLM.Initialise(Small with { Blocks = [Small.Blocks[0], new BlockConfig(AttentionConfig.Gqa(1), FfnConfig.NoOp)] }, seed: 5);
        using var teacher = CausalLM.Initialise(Small, seed: 6);
        using var tokens = Tokens(3);
        var together = Evaluator.Evaluate([first, second], Batches(tokens, 4), teacher);
        Assert.Equal(Evaluator.Evaluate(first, Batches(tokens, 4), teacher), together[0]);
        Assert.Equal(Evaluator.Evaluate(second, Batches(tokens, 4), teacher), together[1]);
        Assert.NotEqual(together[0].Kl, together[1].Kl);
    }

    [Fact]
    public void Kept_passes_of_the_teacher_give_what_its_whole_passes_give_and_run_none_of_its_blocks_again()
    {
        Fixtures.Torch();
        using var first = CausalLM.Initialise(Small, seed: 7);
        using var second = CausalLM.Initialise(Small with { Blocks = [Small.Blocks[0], new BlockConfig(AttentionConfig.NoOp, FfnConfig.SwiGlu(16))] }, seed: 8);
        using var teacher = CausalLM.Initialise(Small, seed: 9);
        using var tokens = Tokens(4);
        using var passes = new TeacherPasses(teacher, Batches(tokens, 4));
        Assert.Equal(2, passes.Passes.Count);
        Assert.Equal(Evaluator.Evaluate([first, second], Batches(tokens, 4), teacher), Evaluator.Evaluate([first, second], passes));
        Assert.Equal(Evaluator.Evaluate(first, Batches(tokens, 4), teacher), Evaluator.Evaluate([first], passes)[0]);

        // the kept hidden states are what the checks read: the teacher's blocks are not run again
        using var same = CausalLM.Initialise(Small, seed: 9);
        using (no_grad())
            foreach (var p in teacher.model.layers.parameters()) p.zero_();
        Assert.Equal(Evaluator.Evaluate(first, Batches(tokens, 4), same), Evaluator.Evaluate([first], passes)[0]);
        Assert.NotEqual(Evaluator.Evaluate(first, Batches(tokens, 4), teacher), Evaluator.Evaluate([first], passes)[0]);
    }
}
