using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>Held-out loss at one step of training.</summary>
public sealed record HeldoutPoint(long Step, long Tokens, double Loss);

/// <summary>What a checkpoint keeps of a <see cref="HeldoutGuard"/>.</summary>
public sealed record GuardState(IReadOnlyList<HeldoutPoint> Points, long BestStep, double Best);

/// <summary>
/// Training that never publishes a worse model: the held-out loss is measured at step 0 and every few steps, and the
/// weights with the lowest one seen, the starting weights included, are what the run ends with.
/// </summary>
/// <param name="evaluate">the held-out loss of the model's current weights (lower is better)</param>
/// <param name="evaluations">evaluations in a run, besides step 0 and the last step</param>
public sealed class HeldoutGuard(Func<double> evaluate, int evaluations = 8) : IDisposable
{
    readonly List<HeldoutPoint> _points = new();
    Dictionary<string, Tensor> _best = new();
    IReadOnlyList<(string Name, Parameter Param)> _parameters = [];
    long _every = 1;

    public IReadOnlyList<HeldoutPoint> Points => _points;
    /// <summary>The step whose weights the run ends with (0: training never beat the starting weights).</summary>
    public long BestStep { get; private set; }
    public double Best { get; private set; } = double.PositiveInfinity;
    /// <summary>The held-out loss of the weights after the last step.</summary>
    public double Last => _points.Count > 0 ? _points[^1].Loss : double.NaN;
    public double Initial => _points.Count > 0 ? _points[0].Loss : double.NaN;
    /// <summary>The best weights so far, by parameter name (in the model's dtype): what checkpoints keep.</summary>
    public IReadOnlyDictionary<string, Tensor> BestWeights => _best;
    public GuardState State => new(_points.ToList(), BestStep, Best);

    /// <summary>Starts watching a run: measures the starting weights, or takes up a resumed run's state.</summary>
    public void Begin(TrainingRun run, IEnumerable<(string Name, Parameter Param)> parameters, GuardState? resumed = null,
        IReadOnlyDictionary<string, Tensor>? resumedBest = null)
    {
        if (resumed is not null && resumedBest is not null)
        {
            Watch(run, parameters);
            _points.AddRange(resumed.Points);
            (BestStep, Best) = (resumed.BestStep, resumed.Best);
            _best = _parameters.ToDictionary(p => p.Name, p => resumedBest[p.Name].to(p.Param.dtype, p.Param.device));
            return;
        }
        Begin(run, parameters, evaluate());
    }

    /// <summary>Starts watching a run whose starting weights' held-out loss is already known: measured by the same
    /// evaluation on these very weights, so it is not measured again.</summary>
    public void Begin(TrainingRun run, IEnumerable<(string Name, Parameter Param)> parameters, double startingLoss)
    {
        Watch(run, parameters);
        _best = _parameters.ToDictionary(p => p.Name, p => p.Param.detach().clone());
        _points.Add(new HeldoutPoint(run.Step, run.Tokens, startingLoss));
        Best = startingLoss;
    }

    void Watch(TrainingRun run, IEnumerable<(string Name, Parameter Param)> parameters)
    {
        _parameters = parameters.ToList();
        _every = Math.Max(1, (run.TotalSteps + evaluations - 1) / evaluations);
    }

    /// <summary>After a step: measures the weights when it is time, and keeps them when they are the best so far.</summary>
    public void AfterStep(TrainingRun run)
    {
        if (!IsDue(run)) return;
        var loss = Measure(run);
        if (!(loss < Best)) return;
        (Best, BestStep) = (loss, run.Step);
        using var _ = no_grad();
        foreach (var (name, p) in _parameters) _best[name].copy_(p);
    }

    /// <summary>Whether <see cref="AfterStep"/> measures after the run's latest step.</summary>
    public bool IsDue(TrainingRun run) => run.Finished || run.Step % _every == 0;

    /// <summary>Puts the best weights into the model (when they are not already there).</summary>
    public void Finish(TrainingRun run)
    {
        if (BestStep == run.Step) return;
        using var _ = no_grad();
        foreach (var (name, p) in _parameters) p.copy_(_best[name]);
    }

    double Measure(TrainingRun run)
    {
        var loss = evaluate();
        _points.Add(new HeldoutPoint(run.Step, run.Tokens, loss));
        return loss;
    }

    public void Dispose()
    {
        foreach (var t in _best.Values) t.Dispose();
        _best.Clear();
    }
}
