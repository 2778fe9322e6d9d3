using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>
/// A plain training loop shared by pretraining, BLD and GKD: the caller supplies the loss of one batch;
/// this owns AdamW (no decay on norms), the schedule, clipping, the token budget, the curve and progress.
/// Parameters in a low precision (bfloat16 on a GPU) train against float32 master copies: the optimizer, its
/// moments and the clipping see float32, and each step rounds the masters back into the model's weights (AdamW's
/// small updates would otherwise round away in bfloat16's 8-bit mantissa). float32 parameters are trained in place.
/// </summary>
public static class Trainer
{
    /// <param name="parameters">named trainable parameters</param>
    /// <param name="batches">an endless or long enough sequence of batches</param>
    /// <param name="loss">the scalar loss of a batch (with the graph attached)</param>
    /// <param name="tokensPerBatch">tokens one batch counts for the budget and tokens/s</param>
    /// <param name="checkpoints">where and how often to save resumable state; a run that finds state there resumes
    /// from it (same parameters, optimizer moments, step, curve and place in <paramref name="batches"/>)</param>
    public static IReadOnlyList<CurvePoint> Run(IEnumerable<(string Name, Parameter Param)> parameters,
        IEnumerable<Tensor> batches, Func<Tensor, Tensor> loss, long tokensPerBatch, TrainOptions options,
        ProgressLine? progress = null, TrainCheckpoints? checkpoints = null)
    {
        var named = parameters.ToList();
        var masters = named.Select(p => p.Param.dtype == float32 ? p.Param : new Parameter(p.Param.detach().to(float32))).ToList();
        var mixed = Enumerable.Range(0, named.Count).Where(i => !ReferenceEquals(masters[i], named[i].Param)).ToList();
        // checkpoints hold the masters: a resumed bf16 run continues from the float32 weights, not their rounding
        var state = named.Select((p, i) => (p.Name, masters[i])).ToList();
        var decayed = masters.Where(p => p.dim() >= 2).ToList();
        var plain = masters.Where(p => p.dim() < 2).ToList();
        var groups = new List<AdamW.ParamGroup>
        {
            new(decayed, options.LearningRate, options.Beta1, options.Beta2, 1e-8, options.WeightDecay, false, false),
        };
        if (plain.Count > 0) groups.Add(new(plain, options.LearningRate, options.Beta1, options.Beta2, 1e-8, 0, false, false));
        using var optimizer = optim.AdamW(groups);
        var totalSteps = Math.Max(1, (options.Tokens + tokensPerBatch - 1) / tokensPerBatch);
        var schedule = new CosineSchedule(options.LearningRate, totalSteps,
            Math.Max(1, (long)(totalSteps * options.WarmupFraction)), options.MinLrRatio);
        var curve = new List<CurvePoint>();
        var all = masters;
        var ema = double.NaN;
        long step = 0;
        using var e = batches.GetEnumerator();
        if (checkpoints?.TryLoad(state, optimizer) is { } resumed)
        {
            if (mixed.Count > 0)
                using (no_grad())
                    foreach (var i in mixed) named[i].Param.copy_(masters[i]);
            (step, ema) = (resumed.Step, resumed.Ema);
            curve.AddRange(resumed.Curve);
            for (long skip = 0; skip < step; skip++)
            {
                using var scope = NewDisposeScope();
                if (!e.MoveNext()) throw new InvalidOperationException($"the data ran out while skipping to step {step}");
            }
            progress?.ResumedAt(step * tokensPerBatch);
        }
        while (step < totalSteps)
        {
            using var scope = NewDisposeScope(); // frees the batch and every intermediate of the step at once
            if (!e.MoveNext()) throw new InvalidOperationException($"the data ran out after {step} of {totalSteps} steps");
            var lr = schedule.At(step);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            optimizer.zero_grad();
            foreach (var i in mixed) named[i].Param.grad?.zero_();
            var l = loss(e.Current);
            l.backward();
            foreach (var i in mixed) masters[i].grad = named[i].Param.grad?.to(float32);
            if (options.GradClip > 0) GradientClipping.ClipByGlobalNorm(all, options.GradClip);
            optimizer.step();
            if (mixed.Count > 0)
                using (no_grad())
                    foreach (var i in mixed) named[i].Param.copy_(masters[i]);
            var value = l.item<float>();
            if (!double.IsFinite(value)) throw new InvalidOperationException($"the loss became {value} at step {step}");
            ema = double.IsNaN(ema) ? value : 0.95 * ema + 0.05 * value;
            step++;
            if (step % options.CurveEvery == 0 || step == totalSteps || step == 1)
                curve.Add(new CurvePoint(step, step * tokensPerBatch, value, lr));
            progress?.Report(step * tokensPerBatch, ema);
            if (checkpoints is not null && step % checkpoints.Every == 0 && step < totalSteps)
                checkpoints.Save(state, optimizer, new TrainState(step, ema, curve));
        }
        progress?.Done(step * tokensPerBatch, ema);
        foreach (var i in mixed) masters[i].Dispose();
        return curve;
    }
}
