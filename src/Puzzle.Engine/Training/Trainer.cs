using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>
/// A plain training loop shared by pretraining and GKD: the caller supplies the loss of one batch; a
/// <see cref="TrainingRun"/> owns the optimisation, and this loop adds the batches, progress and resumable checkpoints.
/// </summary>
public static class Trainer
{
    /// <param name="parameters">named trainable parameters</param>
    /// <param name="batches">an endless or long enough sequence of batches</param>
    /// <param name="loss">the scalar loss of a batch (with the graph attached)</param>
    /// <param name="tokensPerBatch">tokens one batch counts for the budget and tokens/s</param>
    /// <param name="checkpoints">where and how often to save resumable state; a run that finds state there resumes
    /// from it (same parameters, optimizer moments, step, curve and place in <paramref name="batches"/>)</param>
    /// <param name="guard">measures held-out loss as training goes, and leaves the model with the best weights seen</param>
    /// <param name="lossBackpropagates">the loss function accumulates its gradients itself and returns the loss's
    /// value only (see <see cref="TrainingRun.StepOnGradients"/>)</param>
    public static IReadOnlyList<CurvePoint> Run(IEnumerable<(string Name, TorchSharp.Modules.Parameter Param)> parameters,
        IEnumerable<Tensor> batches, Func<Tensor, Tensor> loss, long tokensPerBatch, TrainOptions options,
        ProgressLine? progress = null, TrainCheckpoints? checkpoints = null, HeldoutGuard? guard = null, bool lossBackpropagates = false)
    {
        var named = parameters.ToList();
        using var run = new TrainingRun(named, tokensPerBatch, options, progress);
        using var e = batches.GetEnumerator();
        if (checkpoints?.TryLoad(run.State, run.Optimizer) is { } resumed)
        {
            for (long skip = 0; skip < resumed.Step; skip++)
            {
                using var scope = NewDisposeScope();
                if (!e.MoveNext()) throw new InvalidOperationException($"the data ran out while skipping to step {resumed.Step}");
            }
            run.ResumeFrom(resumed);
            guard?.Begin(run, named, resumed.Guard, checkpoints.LoadBest());
        }
        else guard?.Begin(run, named);
        while (!run.Finished)
        {
            using (var scope = NewDisposeScope()) // frees the batch and every intermediate of the step at once
            {
                if (!e.MoveNext()) throw new InvalidOperationException($"the data ran out after {run.Step} of {run.TotalSteps} steps");
                if (lossBackpropagates) run.StepOnGradients(loss(e.Current));
                else run.TakeStep(loss(e.Current));
            }
            if (run.Step % options.CurveEvery == 0 || run.Finished) run.Flush();
            guard?.AfterStep(run);
            if (checkpoints is not null && run.Step % checkpoints.Every == 0 && !run.Finished)
            {
                run.Flush();
                checkpoints.Save(run.State, run.Optimizer, new TrainState(run.Step, run.Ema, run.Curve.ToList(), guard?.State), guard?.BestWeights);
            }
        }
        run.Flush(done: true);
        guard?.Finish(run);
        return run.Curve.ToList();
    }
}
