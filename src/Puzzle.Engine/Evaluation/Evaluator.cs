using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Evaluation;

/// <summary>Held-out LM loss, perplexity and top-1 accuracy; with a teacher also KL(teacher ‖ model) and top-1 agreement.</summary>
public static class Evaluator
{
    /// <param name="batches">token batches [B, T+1]: inputs and shifted targets</param>
    public static LmMetrics Evaluate(CausalLM model, IEnumerable<Tensor> batches, CausalLM? teacher = null) =>
        Evaluate([model], batches, teacher)[0];

    /// <summary>Several models on the same batches, the teacher run once per batch for all of them; each model's
    /// metrics are those <see cref="Evaluate(CausalLM, IEnumerable{Tensor}, CausalLM?)"/> gives it alone.</summary>
    public static IReadOnlyList<LmMetrics> Evaluate(IReadOnlyList<CausalLM> models, IEnumerable<Tensor> batches, CausalLM? teacher = null)
    {
        foreach (var model in models)
        {
            if (teacher is not null && teacher.Config.VocabSize != model.Config.VocabSize)
                throw new ArgumentException(
                    $"the teacher's vocabulary ({teacher.Config.VocabSize}) differs from the model's ({model.Config.VocabSize})");
            model.eval();
        }
        teacher?.eval();
        using var _ = no_grad();
        var sums = models.Select(_ => new LmMetricsAccumulator()).ToList();
        using var e = batches.GetEnumerator();
        while (true)
        {
            using var scope = NewDisposeScope(); // frees the batch and every intermediate at once
            if (!e.MoveNext()) break;
            var batch = e.Current;
            if (batch.device_type != models[0].DeviceType) batch = batch.to(models[0].Device);
            var inputs = batch[.., ..^1];
            var targets = batch[.., 1..];
            // the teacher's part of the metrics is taken once when several models are compared with it
            using var teacherLogits = teacher is null ? null : new LmMetricsAccumulator.Teacher(teacher.Forward(inputs), keep: models.Count > 1);
            for (var m = 0; m < models.Count; m++)
            {
                using var own = NewDisposeScope(); // one model's activations at a time; its head runs a slice at a time
                sums[m].Add(models[m].Hidden(inputs), models[m].Head, models[m].Config.VocabSize, targets, teacherLogits);
            }
        }
        return sums.Select(s => s.Result()).ToList();
    }
}
