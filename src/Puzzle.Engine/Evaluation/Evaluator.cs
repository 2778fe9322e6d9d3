using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Evaluation;

/// <summary>Held-out LM loss, perplexity and top-1 accuracy; with a teacher also KL(teacher ‖ model) and top-1 agreement.</summary>
public static class Evaluator
{
    /// <param name="batches">token batches [B, T+1]: inputs and shifted targets</param>
    public static LmMetrics Evaluate(CausalLM model, IEnumerable<Tensor> batches, CausalLM? teacher = null)
    {
        if (teacher is not null && teacher.Config.VocabSize != model.Config.VocabSize)
            throw new ArgumentException(
                $"the teacher's vocabulary ({teacher.Config.VocabSize}) differs from the model's ({model.Config.VocabSize})");
        model.eval();
        teacher?.eval();
        using var _ = no_grad();
        var sums = new LmMetricsAccumulator();
        using var e = batches.GetEnumerator();
        while (true)
        {
            using var scope = NewDisposeScope(); // frees the batch and every intermediate at once
            if (!e.MoveNext()) break;
            var batch = e.Current;
            if (batch.device_type != model.DeviceType) batch = batch.to(model.Device);
            var inputs = batch[.., ..^1];
            var targets = batch[.., 1..];
            sums.Add(model.Forward(inputs), targets, teacher?.Forward(inputs));
        }
        return sums.Result();
    }
}
