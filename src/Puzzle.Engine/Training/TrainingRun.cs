using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>
/// One model's optimisation, a step at a time: AdamW (no decay on norms), the warm-up and cosine schedule, clipping,
/// the token budget and the loss curve. <see cref="Trainer.Run"/> drives one of these over its batches; blockwise
/// distillation drives many side by side on the same batches of the parent's stream.
/// Parameters in a low precision (bfloat16 on a GPU) train against float32 master copies: the optimizer, its moments
/// and the clipping see float32, and each step rounds the masters back into the model's weights (AdamW's small
/// updates would otherwise round away in bfloat16's 8-bit mantissa). float32 parameters are trained in place.
/// Losses stay on the device until <see cref="Flush"/> reads them all at once: a GPU is never made to wait for the
/// host inside a step. The optimizer is our own <see cref="AdamW"/>: TorchSharp's frees temporary Scalars under native calls.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    readonly List<(string Name, Parameter Param)> _named;
    readonly List<Parameter> _masters;
    readonly List<int> _mixed;
    readonly AdamW _optimizer;
    readonly CosineSchedule _schedule;
    readonly TrainOptions _options;
    readonly long _tokensPerBatch;
    readonly ProgressLine? _progress;
    readonly List<CurvePoint> _curve = new();
    readonly List<(long Step, double Lr, Tensor Loss)> _pending = new();
    double _ema = double.NaN;

    public TrainingRun(IEnumerable<(string Name, Parameter Param)> parameters, long tokensPerBatch, TrainOptions options,
        ProgressLine? progress = null)
    {
        _named = parameters.ToList();
        _masters = _named.Select(p => p.Param.dtype == float32 ? p.Param : new Parameter(p.Param.detach().to(float32))).ToList();
        _mixed = Enumerable.Range(0, _named.Count).Where(i => !ReferenceEquals(_masters[i], _named[i].Param)).ToList();
        var masters = _named.Select((p, i) => (p.Name, Param: _masters[i])).ToList();
        _optimizer = new AdamW(
        [
            new AdamW.Group(masters.Where(p => p.Param.dim() >= 2).ToList(), options.WeightDecay),
            new AdamW.Group(masters.Where(p => p.Param.dim() < 2).ToList(), 0),
        ], options.LearningRate, options.Beta1, options.Beta2);
        TotalSteps = options.Steps(tokensPerBatch);
        _schedule = new CosineSchedule(options.LearningRate, TotalSteps, WarmupSteps(TotalSteps, options), options.MinLrRatio);
        (_options, _tokensPerBatch, _progress) = (options, tokensPerBatch, progress);
    }

    /// <summary>Warm-up steps: as many as the options say, at most the whole run (see <see cref="TrainOptions.WarmupWarning"/>).</summary>
    public static long WarmupSteps(long totalSteps, TrainOptions options) => Math.Min(options.WarmupSteps, totalSteps);

    public long Step { get; private set; }
    public long TotalSteps { get; }
    public bool Finished => Step >= TotalSteps;
    public long Tokens => Step * _tokensPerBatch;
    /// <summary>The loss curve up to the last <see cref="Flush"/>.</summary>
    public IReadOnlyList<CurvePoint> Curve => _curve;
    /// <summary>Exponential moving average of the loss up to the last <see cref="Flush"/>.</summary>
    public double Ema => _ema;
    /// <summary>What a checkpoint holds: the float32 masters under the parameters' names.</summary>
    public IReadOnlyList<(string Name, Parameter Param)> State => _named.Select((p, i) => (p.Name, _masters[i])).ToList();
    internal AdamW Optimizer => _optimizer;

    /// <summary>Continues from a saved state: masters and moments are already loaded into <see cref="State"/>.</summary>
    internal void ResumeFrom(TrainState state)
    {
        CopyMastersIntoModel();
        (Step, _ema) = (state.Step, state.Ema);
        _curve.AddRange(state.Curve);
        _progress?.ResumedAt(Tokens);
    }

    /// <summary>One optimiser step on the loss of one batch (with its graph). Nothing is read back to the host.</summary>
    public void TakeStep(Tensor loss)
    {
        if (Finished) throw new InvalidOperationException($"the run has finished its {TotalSteps} steps");
        loss.backward();
        StepOnGradients(loss);
    }

    /// <summary>One optimiser step on gradients the caller has accumulated by its own backward passes (GKD runs its
    /// head a slice at a time and may re-run its blocks one at a time), recording <paramref name="loss"/>'s value.</summary>
    public void StepOnGradients(Tensor loss)
    {
        if (Finished) throw new InvalidOperationException($"the run has finished its {TotalSteps} steps");
        var lr = _schedule.At(Step);
        _optimizer.LearningRate = lr;
        foreach (var i in _mixed)
        {
            // one gradient at a time into float32, its low-precision original freed at once: the two never all coexist
            using var low = _named[i].Param.grad;
            _masters[i].grad = low?.to(float32);
            _named[i].Param.grad = null;
        }
        if (_options.GradClip > 0) GradientClipping.ClipByGlobalNormOnDevice(_masters, _options.GradClip).Dispose();
        _optimizer.Step();
        // no gradient outlives its step: the next forward pass has that memory for its activations
        foreach (var p in _masters) p.grad = null;
        CopyMastersIntoModel();
        Step++;
        _pending.Add((Step, lr, loss.detach().to(float32).DetachFromDisposeScope()));
    }

    /// <summary>A step taken by other means than the optimiser (a closed-form fit, see <c>LinearFit</c>): counts it
    /// against the budget and records its loss on the curve, with a learning rate of 0.</summary>
    public void RecordStep(Tensor loss)
    {
        if (Finished) throw new InvalidOperationException($"the run has finished its {TotalSteps} steps");
        Step++;
        _pending.Add((Step, 0, loss.detach().to(float32).DetachFromDisposeScope()));
    }

    /// <summary>Reads the losses of the steps since the last flush (one transfer), checks them and extends the curve.</summary>
    public void Flush(bool done = false)
    {
        if (_pending.Count > 0)
        {
            float[] values;
            using (var all = stack(_pending.Select(p => p.Loss).ToArray()))
                values = all.cpu().data<float>().ToArray();
            for (var i = 0; i < values.Length; i++)
            {
                var (step, lr, _) = _pending[i];
                if (!double.IsFinite(values[i]))
                    throw new InvalidOperationException(step == 1
                        ? $"the loss was {values[i].ToString(System.Globalization.CultureInfo.InvariantCulture)} at the first step, before any update: the starting weights or the parent's outputs are not finite " +
                          "(a NaN or infinity in the parent's weights, or values beyond the compute dtype's range)"
                        : $"the loss became {values[i].ToString(System.Globalization.CultureInfo.InvariantCulture)} at step {step - 1}: training diverged; a lower lr or a longer warmup may hold it");
                _ema = double.IsNaN(_ema) ? values[i] : 0.95 * _ema + 0.05 * values[i];
                if (step % _options.CurveEvery == 0 || step == TotalSteps || step == 1)
                    _curve.Add(new CurvePoint(step, step * _tokensPerBatch, values[i], lr));
            }
            foreach (var p in _pending) p.Loss.Dispose();
            _pending.Clear();
        }
        if (done) _progress?.Done(Tokens, _ema);
        else _progress?.Report(Tokens, _ema);
    }

    void CopyMastersIntoModel()
    {
        if (_mixed.Count == 0) return;
        using var _ = no_grad();
        foreach (var i in _mixed) _named[i].Param.copy_(_masters[i]);
    }

    public void Dispose()
    {
        foreach (var p in _pending) p.Loss.Dispose();
        _pending.Clear();
        _optimizer.Dispose();
        foreach (var i in _mixed) _masters[i].Dispose();
    }
}
