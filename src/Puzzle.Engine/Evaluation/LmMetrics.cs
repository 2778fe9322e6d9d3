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
/// Sums next-token statistics over batches in float64, so the mean does not depend on batching. Logits are taken a
/// slice of positions at a time, in float32 (a full-vocabulary float64 tensor over a batch of 4k tokens would be 4 GB),
/// and each position's sums run along its own row, so they do not depend on the thread count either. KL is computed
/// from logit differences and the two log-normalisers, which keeps it accurate when the two models nearly agree.
/// </summary>
/// <param name="sliceBytes">the float32 bytes of one slice of logits [positions, vocabulary]</param>
public sealed class LmMetricsAccumulator(long sliceBytes = 256L << 20)
{
    /// <summary>Positions per slice at most: sums over fewer than ATen's grain size (32768) run on one thread.</summary>
    const long MaxRows = 16384;
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
        var flat = logits.reshape(-1, vocab);
        var flatTargets = targets.reshape(-1);
        var flatTeacher = teacherLogits?.reshape(-1, vocab);
        var positions = flat.shape[0];
        var rows = Math.Clamp(sliceBytes / (vocab * 4), 1, MaxRows);
        for (long start = 0; start < positions; start += rows)
        {
            using var slice = NewDisposeScope();
            var n = Math.Min(rows, positions - start);
            var z = flat.narrow(0, start, n).to(float32);
            var target = flatTargets.narrow(0, start, n);
            var lse = z.logsumexp(1);
            _nll += (lse - z.gather(1, target.unsqueeze(1)).squeeze(1)).to(float64).sum().item<double>();
            var argmax = z.argmax(1);
            _correct += argmax.eq(target).sum().item<long>();
            if (flatTeacher is null) continue;
            _hasTeacher = true;
            var zt = flatTeacher.narrow(0, start, n).to(float32);
            var lseT = zt.logsumexp(1);
            var p = (zt - lseT.unsqueeze(1)).exp();
            // KL(p ‖ q) = Σ p·(z_t − z) − (lse_t − lse)·Σ p, per position
            var kl = (p * (zt - z)).sum(1).to(float64) - (lseT - lse).to(float64) * p.sum(1).to(float64);
            _kl += kl.sum().item<double>();
            _agree += zt.argmax(1).eq(argmax).sum().item<long>();
        }
        _tokens += positions;
    }

    public LmMetrics Result()
    {
        var n = Math.Max(1, _tokens);
        return new LmMetrics(_tokens, _nll / n, _correct / n, _hasTeacher ? _kl / n : null, _hasTeacher ? _agree / n : null);
    }
}
