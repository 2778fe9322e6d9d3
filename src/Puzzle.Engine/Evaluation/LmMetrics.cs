using Puzzle.Engine.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Evaluation;

/// <summary>Held-out quality of a model, optionally against a teacher, per predicted token.</summary>
public sealed record LmMetrics(long Tokens, double Loss, double Top1, double? Kl, double? Agreement)
{
    public double Perplexity => Math.Exp(Loss);
}

/// <summary>
/// Sums next-token statistics over batches in float64, so the mean does not depend on batching, and with
/// <see cref="StableReduction"/>, so it does not depend on the thread count either.
/// </summary>
public sealed class LmMetricsAccumulator
{
    long _tokens;
    double _nll, _correct, _kl, _agree;
    bool _hasTeacher;

    /// <param name="logits">model logits [B, T, V]</param>
    /// <param name="targets">next tokens [B, T]</param>
    /// <param name="teacherLogits">teacher logits [B, T, V] or null</param>
    public void Add(Tensor logits, Tensor targets, Tensor? teacherLogits = null)
    {
        using var scope = NewDisposeScope();
        var vocab = logits.shape[^1];
        var logp = F.log_softmax(logits.reshape(-1, vocab).to(float64), 1);
        var flatTargets = targets.reshape(-1);
        _tokens += flatTargets.shape[0];
        _nll += F.nll_loss(logp, flatTargets, reduction: nn.Reduction.Sum).item<double>();
        var argmax = logp.argmax(1);
        _correct += argmax.eq(flatTargets).sum().item<long>();
        if (teacherLogits is null) return;
        _hasTeacher = true;
        var teacherLogp = F.log_softmax(teacherLogits.reshape(-1, vocab).to(float64), 1);
        _kl += StableReduction.Sum(teacherLogp.exp() * (teacherLogp - logp)).item<double>();
        _agree += teacherLogp.argmax(1).eq(argmax).sum().item<long>();
    }

    public LmMetrics Result()
    {
        var n = Math.Max(1, _tokens);
        return new LmMetrics(_tokens, _nll / n, _correct / n, _hasTeacher ? _kl / n : null, _hasTeacher ? _agree / n : null);
    }
}
