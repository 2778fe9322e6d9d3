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
/// <param name="offload">where to keep the best weights off the memory the model trains in (null: beside the model):
/// a GPU model's in host memory, a CPU model's on Linux in files of this folder mapped into memory, which the kernel
/// writes out and lets go of under memory pressure instead of killing the process. A whole model's copy is 4 of the 16
/// bytes per trained parameter a CPU process holds (2 of 16 on a GPU): the 780M-parameter child of a 1B parent healed
/// on this project's 24 GB CPU ran out of memory with it beside the model.</param>
public sealed class HeldoutGuard(Func<double> evaluate, int evaluations = 8, string? offload = null) : IDisposable
{
    readonly List<HeldoutPoint> _points = new();
    Dictionary<string, Tensor> _best = new();
    readonly List<string> _files = []; // the mapped files of an offloaded CPU copy
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
            _best = _parameters.ToDictionary(p => p.Name, p => Copy(p.Param, resumedBest[p.Name]));
            return;
        }
        Begin(run, parameters, evaluate());
    }

    /// <summary>Starts watching a run whose starting weights' held-out loss is already known: measured by the same
    /// evaluation on these very weights, so it is not measured again.</summary>
    public void Begin(TrainingRun run, IEnumerable<(string Name, Parameter Param)> parameters, double startingLoss)
    {
        Watch(run, parameters);
        _best = _parameters.ToDictionary(p => p.Name, p => Copy(p.Param, p.Param));
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

    /// <summary>A copy of <paramref name="from"/> (the parameter itself, or a resumed run's best weights) in the
    /// parameter's dtype, where the guard keeps its best weights.</summary>
    Tensor Copy(Parameter param, Tensor from)
    {
        using var _ = no_grad();
        if (offload is null) return ReferenceEquals(from, param) ? param.detach().clone() : from.to(param.dtype, param.device);
        if (param.device.type != TorchSharp.DeviceType.CPU || !OperatingSystem.IsLinux()) return from.detach().to(param.dtype, CPU, copy: true);
        Directory.CreateDirectory(offload);
        var file = Path.Combine(offload, $"{_files.Count}.bin"); // parameter names need not be file names
        File.Delete(file); // a killed run's: from_file would map what is there
        using var flat = from_file(file, shared: true, size: param.numel(), dtype: param.dtype);
        var copy = flat.view(param.shape);
        copy.copy_(from);
        _files.Add(file);
        return copy;
    }

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
        foreach (var file in _files) File.Delete(file); // unmapped with their tensors
        _files.Clear();
        if (offload is not null && Directory.Exists(offload) && !Directory.EnumerateFileSystemEntries(offload).Any()) Directory.Delete(offload);
    }
}
