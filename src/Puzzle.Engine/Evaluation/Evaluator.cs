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
    public static IReadOnlyList<LmMetrics> Evaluate(IReadOnlyList<CausalLM> models, IEnumerable<Tensor> batches, CausalLM? teacher = null) =>
        Evaluate(models, batches.Select(b => (b, (Tensor?)null)), teacher);

    /// <summary>Several models on the batches of <paramref name="teacher"/>'s passes, against it: its head runs on its
    /// kept hidden states, its blocks not again. The same metrics as <see cref="Evaluate(IReadOnlyList{CausalLM}, IEnumerable{Tensor}, CausalLM?)"/>
    /// on those batches, bit for bit.</summary>
    public static IReadOnlyList<LmMetrics> Evaluate(IReadOnlyList<CausalLM> models, TeacherPasses teacher) =>
        Evaluate(models, teacher.Passes.Select(p => (p.Batch, (Tensor?)p.Hidden)), teacher.Teacher);

    /// <param name="batches">each batch, with the teacher's final hidden states over its inputs where they were kept</param>
    static IReadOnlyList<LmMetrics> Evaluate(IReadOnlyList<CausalLM> models, IEnumerable<(Tensor Batch, Tensor? TeacherHidden)> batches, CausalLM? teacher)
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
            using var scope = NewDisposeScope(); // frees the batch and every intermediate at once (not kept passes)
            if (!e.MoveNext()) break;
            var (batch, teacherHidden) = e.Current;
            if (batch.device_type != models[0].DeviceType) batch = batch.to(models[0].Device);
            var inputs = batch[.., ..^1];
            var targets = batch[.., 1..];
            // the teacher's part of the metrics is taken once when several models are compared with it
            using var teacherLogits = teacher is null ? null
                : new LmMetricsAccumulator.Teacher(teacherHidden is null ? teacher.Forward(inputs) : teacher.Head(teacherHidden), keep: models.Count > 1);
            for (var m = 0; m < models.Count; m++)
            {
                using var own = NewDisposeScope(); // one model's activations at a time; its head runs a slice at a time
                sums[m].Add(models[m].Hidden(inputs), models[m].Head, models[m].Config.VocabSize, targets, teacherLogits);
            }
        }
        return sums.Select(s => s.Result()).ToList();
    }
}

/// <summary>
/// A teacher's final hidden states (before its final norm) over fixed batches, taken once on its device: models
/// compared with it on those batches again and again (Heal's held-out checks: before training, every few steps of every
/// model it trains, after) run only its head, not its blocks. At the 1B shape 16 sequences of 512 positions are 32 MB
/// in bfloat16, where the blocks' pass is four fifths of the teacher's work per check.
/// </summary>
public sealed class TeacherPasses : IDisposable
{
    readonly List<(Tensor Batch, Tensor Hidden)> _passes = [];

    /// <param name="batches">token batches [B, T+1]: inputs and shifted targets</param>
    public TeacherPasses(CausalLM teacher, IEnumerable<Tensor> batches)
    {
        Teacher = teacher;
        teacher.eval();
        using var _ = no_grad();
        foreach (var b in batches)
        {
            using var scope = NewDisposeScope();
            var batch = b.device_type == teacher.DeviceType ? b : b.to(teacher.Device);
            var hidden = teacher.Hidden(batch[.., ..^1]);
            _passes.Add((batch.DetachFromDisposeScope(), hidden.DetachFromDisposeScope()));
        }
    }

    public CausalLM Teacher { get; }

    /// <summary>Each batch, on the teacher's device, and the teacher's final hidden states over its inputs.</summary>
    public IReadOnlyList<(Tensor Batch, Tensor Hidden)> Passes => _passes;

    public void Dispose()
    {
        foreach (var (batch, hidden) in _passes)
        {
            batch.Dispose();
            hidden.Dispose();
        }
    }
}
