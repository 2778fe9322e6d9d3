using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>
/// One model that <see cref="Trainer.RunTogether{T}"/> trains: its named trainable parameters, the loss of a batch, and
/// its own progress line, resumable checkpoints and held-out guard.
/// </summary>
/// <param name="Loss">the scalar loss of a batch (with the graph attached, or its value only where the run's loss
/// back-propagates itself)</param>
/// <param name="Checkpoints">where and how often to save resumable state; a run that finds state there resumes from it
/// (same parameters, optimizer moments, step, curve and place in the batches)</param>
/// <param name="Guard">measures held-out loss as training goes, and leaves the model with the best weights seen</param>
/// <param name="StartingLoss">the guard's held-out loss of the starting weights, where the caller has measured it
/// already (by the guard's own evaluation): a fresh run does not measure it again</param>
/// <param name="Name">the model's name (Heal's child1, uniform), which an error of its own training starts with: the
/// models trained together fail together, and each one's log must say whose training failed</param>
public sealed record Learner<T>(IEnumerable<(string Name, Parameter Param)> Parameters, Func<T, Tensor> Loss,
    ProgressLine? Progress = null, TrainCheckpoints? Checkpoints = null, HeldoutGuard? Guard = null, double? StartingLoss = null,
    string? Name = null);

/// <summary>
/// A plain training loop shared by pretraining and GKD: the caller supplies the loss of one batch; a
/// <see cref="TrainingRun"/> owns the optimisation, and this loop adds the batches, progress and resumable checkpoints.
/// </summary>
public static class Trainer
{
    /// <summary>Trains one model (<see cref="RunTogether{T}"/> with one learner and nothing shared).</summary>
    /// <param name="batches">an endless or long enough sequence of batches</param>
    /// <param name="tokensPerBatch">tokens one batch counts for the budget and tokens/s</param>
    /// <param name="lossBackpropagates">the loss function accumulates its gradients itself and returns the loss's
    /// value only (see <see cref="TrainingRun.StepOnGradients"/>)</param>
    public static IReadOnlyList<CurvePoint> Run(IEnumerable<(string Name, Parameter Param)> parameters,
        IEnumerable<Tensor> batches, Func<Tensor, Tensor> loss, long tokensPerBatch, TrainOptions options,
        ProgressLine? progress = null, TrainCheckpoints? checkpoints = null, HeldoutGuard? guard = null, bool lossBackpropagates = false) =>
        RunTogether([new Learner<Tensor>(parameters, loss, progress, checkpoints, guard)], batches, b => b, tokensPerBatch, options, lossBackpropagates)[0];

    /// <summary>
    /// Trains several models on the same batches, in lock step: for each batch, <paramref name="share"/> computes once
    /// what every learner's loss reads (GKD: the parent's pass), then each learner takes its step. Every learner's
    /// steps, curve, checkpoints and held-out checks are exactly those it would have alone on these batches; a learner
    /// resumed further than another waits for the batches it has not seen.
    /// </summary>
    /// <returns>each learner's loss curve</returns>
    public static IReadOnlyList<IReadOnlyList<CurvePoint>> RunTogether<T>(IReadOnlyList<Learner<T>> learners, IEnumerable<Tensor> batches,
        Func<Tensor, T> share, long tokensPerBatch, TrainOptions options, bool lossBackpropagates = false)
    {
        var named = learners.Select(l => l.Parameters.ToList()).ToList();
        var runs = new List<TrainingRun>();
        try
        {
            for (var i = 0; i < learners.Count; i++) runs.Add(new TrainingRun(named[i], tokensPerBatch, options, learners[i].Progress));
            for (var i = 0; i < learners.Count; i++)
            {
                var (run, checkpoints, guard) = (runs[i], learners[i].Checkpoints, learners[i].Guard);
                if (checkpoints?.TryLoad(run.State, run.Optimizer) is { } resumed)
                {
                    run.ResumeFrom(resumed);
                    guard?.Begin(run, named[i], resumed.Guard, checkpoints.LoadBest());
                }
                else if (learners[i].StartingLoss is { } starting) guard?.Begin(run, named[i], starting);
                else guard?.Begin(run, named[i]);
            }
            using var e = batches.GetEnumerator();
            for (long step = 0; runs.Any(r => !r.Finished); step++)
            {
                var due = Enumerable.Range(0, runs.Count).Where(i => !runs[i].Finished && runs[i].Step == step).ToList();
                using (var scope = NewDisposeScope()) // frees the batch, what is shared and every intermediate of the steps at once
                {
                    if (!e.MoveNext())
                        throw new InvalidOperationException(due.Count == 0 ? $"the data ran out while skipping to step {runs.Min(r => r.Step)}"
                            : $"the data ran out after {step} of {runs[due[0]].TotalSteps} steps");
                    if (due.Count == 0) continue; // a resumed learner's batch, seen before it was stopped
                    var shared = share(e.Current);
                    foreach (var i in due)
                    {
                        var loss = learners[i].Loss(shared);
                        if (lossBackpropagates) runs[i].StepOnGradients(loss);
                        else runs[i].TakeStep(loss);
                    }
                }
                foreach (var i in due) Named(learners[i], () => AfterStep(runs[i], learners[i], options));
            }
            for (var i = 0; i < runs.Count; i++)
            {
                Named(learners[i], () => runs[i].Flush(done: true));
                learners[i].Guard?.Finish(runs[i]);
            }
            return runs.Select(r => (IReadOnlyList<CurvePoint>)r.Curve.ToList()).ToList();
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
        }
    }

    /// <summary>Runs one learner's part, its name before the message of a failure of its own (a loss that diverged).</summary>
    static void Named<T>(Learner<T> learner, Action action)
    {
        try { action(); }
        catch (InvalidOperationException e) when (learner.Name is { } name)
        {
            throw new InvalidOperationException($"{name}: {e.Message}", e);
        }
    }

    static void AfterStep<T>(TrainingRun run, Learner<T> learner, TrainOptions options)
    {
        if (run.Step % options.CurveEvery == 0 || run.Finished) run.Flush();
        learner.Guard?.AfterStep(run);
        if (learner.Checkpoints is { } checkpoints && !run.Finished && checkpoints.IsDue(run.Step))
        {
            run.Flush();
            checkpoints.Save(run.State, run.Optimizer, new TrainState(run.Step, run.Ema, run.Curve.ToList(), learner.Guard?.State), learner.Guard?.BestWeights);
        }
    }
}
