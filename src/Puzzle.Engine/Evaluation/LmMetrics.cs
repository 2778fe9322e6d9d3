using Puzzle.Engine.Runtime;
using TorchSharp;
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
/// <param name="sliceBytes">the float32 bytes of one slice of logits [positions, vocabulary]; default: the logits'
/// device's (<see cref="LogitSlices"/>), and where a head computes them slice by slice, at least as many positions as
/// keep its product from being bound by reading its weight (<see cref="LogitSlices.HeadRows(DeviceType, long)"/>)</param>
public sealed class LmMetricsAccumulator(long? sliceBytes = null)
{
    long _tokens;
    double _nll, _correct, _kl, _agree;
    bool _hasTeacher;

    /// <param name="logits">model logits [B, T, V]</param>
    /// <param name="targets">next tokens [B, T]</param>
    /// <param name="teacherLogits">teacher logits [B, T, V] or null</param>
    public void Add(Tensor logits, Tensor targets, Tensor? teacherLogits = null)
    {
        using var teacher = teacherLogits is null ? null : new Teacher(teacherLogits, sliceBytes ?? LogitSlices.Bytes(teacherLogits.device_type), keep: false);
        Add(logits, targets, teacher);
    }

    /// <summary>The same sums against a teacher whose per-slice statistics were taken once (<see cref="Teacher"/>):
    /// equal to <see cref="Add(Tensor, Tensor, Tensor?)"/> with its logits, bit for bit.</summary>
    public void Add(Tensor logits, Tensor targets, Teacher? teacher)
    {
        using var scope = NewDisposeScope();
        var vocab = logits.shape[^1];
        var flat = logits.reshape(-1, vocab);
        Add(flat.shape[0], vocab, LogitSlices.Rows(sliceBytes ?? LogitSlices.Bytes(logits.device_type), vocab), (start, n) => flat.narrow(0, start, n), targets, teacher);
    }

    /// <summary>
    /// The same sums from a model's final hidden states, its head run on one slice of positions at a time, so its
    /// logits [positions, vocabulary] never exist whole (at a 32k vocabulary, 8 × 511 positions of float32 logits are
    /// 535 MB: on a CPU, a fresh mmap per model). Equal to <see cref="Add(Tensor, Tensor, Teacher?)"/> with
    /// <c>head(hidden)</c> within float rounding (the head's matrix product over fewer rows).
    /// </summary>
    /// <param name="hidden">final hidden states [B, T, d], before the final norm</param>
    /// <param name="head">the final norm and head: [n, d] → logits [n, vocabulary]</param>
    /// <param name="vocab">the head's vocabulary</param>
    public void Add(Tensor hidden, Func<Tensor, Tensor> head, long vocab, Tensor targets, Teacher? teacher = null)
    {
        using var scope = NewDisposeScope();
        var rows = hidden.reshape(-1, hidden.shape[^1]);
        var sliceRows = LogitSlices.HeadRows(hidden.device_type, vocab, sliceBytes);
        Add(rows.shape[0], vocab, sliceRows, (start, n) => head(rows.narrow(0, start, n)), targets, teacher);
    }

    /// <param name="sliceRows">positions per slice where no teacher sets them</param>
    /// <param name="logits">slice (start, n)'s logits [n, vocabulary]</param>
    void Add(long positions, long vocab, long sliceRows, Func<long, long, Tensor> logits, Tensor targets, Teacher? teacher)
    {
        var flatTargets = targets.reshape(-1);
        var rows = teacher?.Rows ?? sliceRows;
        if (teacher is not null && (teacher.Positions != positions || teacher.Vocab != vocab))
            throw new ArgumentException($"the teacher's logits are [{teacher.Positions}, {teacher.Vocab}], the model's [{positions}, {vocab}]");
        // each slice's sums stay on the device until the batch is done, then come over in one transfer: a read per sum
        // would wait for the device four times a slice (on a GPU, hundreds of times per Score candidate)
        var sums = new List<Tensor>();
        for (long start = 0, i = 0; start < positions; start += rows, i++)
        {
            using var slice = NewDisposeScope();
            var n = Math.Min(rows, positions - start);
            var z = logits(start, n).to(float32);
            var target = flatTargets.narrow(0, start, n);
            var lse = z.logsumexp(1);
            var argmax = z.argmax(1);
            var nll = (lse - z.gather(1, target.unsqueeze(1)).squeeze(1)).to(float64).sum();
            var correct = argmax.eq(target).sum().to(float64);
            if (teacher is null)
            {
                sums.Add(stack([nll, correct]).MoveToOuterDisposeScope());
                continue;
            }
            _hasTeacher = true;
            var (zt, t) = teacher.Slice(i);
            // KL(p ‖ q) = Σ p·(z_t − z) − (lse_t − lse)·Σ p, per position
            var kl = (t.P * (zt - z)).sum(1).to(float64) - (t.Lse - lse).to(float64) * t.PSum;
            var agree = t.Argmax.eq(argmax).sum().to(float64);
            sums.Add(stack([nll, correct, kl.sum(), agree]).MoveToOuterDisposeScope());
        }
        if (sums.Count > 0)
        {
            // float64 sums added here in slice order, as before; counts are whole numbers far below 2^53
            double[] values;
            using (var all = cat(sums)) values = all.cpu().data<double>().ToArray();
            var width = values.Length / sums.Count;
            for (var k = 0; k < values.Length; k += width)
            {
                _nll += values[k];
                _correct += values[k + 1];
                if (width < 4) continue;
                _kl += values[k + 2];
                _agree += values[k + 3];
            }
        }
        _tokens += positions;
    }

    public LmMetrics Result()
    {
        var n = Math.Max(1, _tokens);
        return new LmMetrics(_tokens, _nll / n, _correct / n, _hasTeacher ? _kl / n : null, _hasTeacher ? _agree / n : null);
    }

    /// <summary>
    /// A teacher's logits and, per slice of positions, what the metrics take from them alone: their log-normaliser in
    /// float32, probabilities, the probabilities' sum and the teacher's choice. Kept (<c>keep: true</c>), they are
    /// taken once for every model compared with the same teacher on a batch (Score's variants: about half of each
    /// variant's full-vocabulary work), at the cost of a float32 copy of the probabilities [positions, vocabulary];
    /// otherwise each slice's are taken when asked for and freed with the slice.
    /// </summary>
    public sealed class Teacher : IDisposable
    {
        internal sealed record Stats(Tensor Lse, Tensor P, Tensor PSum, Tensor Argmax);

        readonly Tensor _flat;
        readonly Stats?[]? _kept;

        /// <param name="logits">the teacher's logits [B, T, V]</param>
        /// <param name="sliceBytes">the slices' float32 bytes; default: as a head computes them slice by slice on the logits'
        /// device (<see cref="LogitSlices.HeadRows(DeviceType, long)"/>), as Evaluate and Score compare models with it.
        /// The models compared with it are sliced as it is.</param>
        /// <param name="keep">take every slice's statistics now and hold them until disposed</param>
        public Teacher(Tensor logits, long? sliceBytes = null, bool keep = true)
        {
            Vocab = logits.shape[^1];
            _flat = logits.reshape(-1, Vocab);
            Positions = _flat.shape[0];
            Rows = LogitSlices.HeadRows(logits.device_type, Vocab, sliceBytes);
            if (!keep) return;
            _kept = new Stats?[(Positions + Rows - 1) / Rows];
            for (var i = 0; i < _kept.Length; i++)
            {
                using var scope = NewDisposeScope();
                var s = Take(Logits(i));
                _kept[i] = new Stats(Own(s.Lse), Own(s.P), Own(s.PSum), Own(s.Argmax));
            }
            static Tensor Own(Tensor t) => t.DetachFromDisposeScope();
        }

        public long Positions { get; }
        public long Vocab { get; }
        internal long Rows { get; }

        /// <summary>Slice <paramref name="i"/>'s float32 logits and statistics: kept ones, or new ones in the caller's
        /// dispose scope. The float32 logits are taken again each time (on a GPU, keeping them would be a float32 copy
        /// of a bf16 batch's logits).</summary>
        internal (Tensor Logits, Stats Stats) Slice(long i)
        {
            var zt = Logits(i);
            return (zt, _kept is null ? Take(zt) : _kept[i]!);
        }

        Tensor Logits(long i) => _flat.narrow(0, i * Rows, Math.Min(Rows, Positions - i * Rows)).to(float32);

        static Stats Take(Tensor zt)
        {
            var lse = zt.logsumexp(1);
            var p = (zt - lse.unsqueeze(1)).exp();
            return new Stats(lse, p, p.sum(1).to(float64), zt.argmax(1));
        }

        public void Dispose()
        {
            foreach (var s in _kept ?? [])
                if (s is not null)
                    foreach (var t in new[] { s.Lse, s.P, s.PSum, s.Argmax }) t.Dispose();
        }
    }
}
