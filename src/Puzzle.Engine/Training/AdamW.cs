using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>
/// torch.optim.AdamW's step: decoupled weight decay, then bias-corrected first and second moments. Written here rather
/// than taken from TorchSharp because TorchSharp 0.107's AdamW hands about eight temporary Scalars per parameter and
/// step to native code without keeping them alive: a garbage collection during the call lets the finalizer thread free
/// one while libtorch reads it (see <see cref="Scalars"/>; seen as "Expected false to be true … Scalar::toFloat" and a
/// job aborting with exit 134). Every Scalar here lives in a field or a <c>using</c> variable until the calls that read
/// it have returned. The operations are TorchSharp's, in its order and with the same values, so the weights are bit
/// for bit the ones its AdamW gives.
/// </summary>
public sealed class AdamW : IDisposable
{
    /// <summary>Parameters that share a weight decay (norms get none).</summary>
    public sealed record Group(IReadOnlyList<(string Name, Parameter Param)> Parameters, double WeightDecay);

    /// <summary>Float32 holds every step count below 2^24 exactly: the checkpoint stores them as float32.</summary>
    const long MaxSavedStep = 1L << 24;

    readonly (string Name, Parameter Param, double WeightDecay)[] _parameters;
    readonly Tensor[] _expAvg, _expAvgSq;
    readonly long[] _steps;
    readonly double _beta1, _beta2;
    readonly Scalar _beta1Scalar, _beta2Scalar, _oneMinusBeta1, _oneMinusBeta2, _eps;

    public AdamW(IEnumerable<Group> groups, double learningRate, double beta1, double beta2, double eps = 1e-8)
    {
        if (!(beta1 is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "must be in [0, 1)");
        if (!(beta2 is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "must be in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "must be non-negative");
        _parameters = groups.SelectMany(g => g.WeightDecay >= 0
            ? g.Parameters.Select(p => (p.Name, p.Param, g.WeightDecay))
            : throw new ArgumentOutOfRangeException(nameof(groups), g.WeightDecay, "weight decay must be non-negative")).ToArray();
        var duplicate = _parameters.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"parameter '{duplicate.Key}' is in the optimizer twice", nameof(groups));
        using (no_grad())
        {
            _expAvg = _parameters.Select(p => zeros_like(p.Param).DetachFromDisposeScope()).ToArray();
            _expAvgSq = _parameters.Select(p => zeros_like(p.Param).DetachFromDisposeScope()).ToArray();
        }
        _steps = new long[_parameters.Length];
        (_beta1, _beta2, LearningRate) = (beta1, beta2, learningRate);
        (_beta1Scalar, _beta2Scalar) = (beta1.ToScalar(), beta2.ToScalar());
        (_oneMinusBeta1, _oneMinusBeta2, _eps) = ((1 - beta1).ToScalar(), (1 - beta2).ToScalar(), eps.ToScalar());
    }

    /// <summary>The learning rate of the next <see cref="Step"/> (a schedule sets it before each).</summary>
    public double LearningRate { get; set; }

    /// <summary>One update of every parameter that has a gradient; one without is left alone, its step not counted.</summary>
    public void Step()
    {
        using var _ = no_grad();
        for (var i = 0; i < _parameters.Length; i++)
        {
            var (_, param, weightDecay) = _parameters[i];
            using var grad = param.grad;
            if (grad is null) continue;
            var step = ++_steps[i];
            var biasCorrection1 = 1 - Math.Pow(_beta1, step);
            var biasCorrection2 = 1 - Math.Pow(_beta2, step);
            using var decay = (1 - LearningRate * weightDecay).ToScalar();
            using var sqrtBiasCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
            using var negativeStepSize = (-(LearningRate / biasCorrection1)).ToScalar();
            param.mul_(decay);
            _expAvg[i].mul_(_beta1Scalar).add_(grad, _oneMinusBeta1);
            _expAvgSq[i].mul_(_beta2Scalar).addcmul_(grad, grad, _oneMinusBeta2);
            using var denominator = _expAvgSq[i].sqrt();
            denominator.div_(sqrtBiasCorrection2).add_(_eps, Scalars.One);
            param.addcdiv_(_expAvg[i], denominator, negativeStepSize);
        }
    }

    /// <summary>Writes the moments and step counts, under the parameters' names, to one safetensors file.</summary>
    public void Save(string path)
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>();
        for (var i = 0; i < _parameters.Length; i++)
        {
            var name = _parameters[i].Name;
            if (_steps[i] >= MaxSavedStep)
                throw new InvalidOperationException($"'{name}' has taken {_steps[i]} steps: a checkpoint stores at most {MaxSavedStep - 1}");
            tensors[name + ".exp_avg"] = _expAvg[i];
            tensors[name + ".exp_avg_sq"] = _expAvgSq[i];
            tensors[name + ".step"] = tensor(new float[] { _steps[i] });
        }
        SafeTensorsWriter.Write(path, tensors);
    }

    /// <summary>The bytes of the file <see cref="Save"/> writes, header included: both moments of every parameter and its
    /// step count, as float32 (8 bytes per parameter).</summary>
    public long SavedBytes => SafeTensorsWriter.FileBytes(_parameters.SelectMany((p, i) => new[]
    {
        (p.Name + ".exp_avg", _expAvg[i].shape), (p.Name + ".exp_avg_sq", _expAvgSq[i].shape), (p.Name + ".step", new long[] { 1 }),
    }));

    /// <summary>Reads what <see cref="Save"/> wrote, checking that every parameter is there with its shape.</summary>
    public void Load(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        using var _ = no_grad();
        for (var i = 0; i < _parameters.Length; i++)
        {
            var name = _parameters[i].Name;
            foreach (var (suffix, moment) in new[] { (".exp_avg", _expAvg[i]), (".exp_avg_sq", _expAvgSq[i]) })
            {
                if (!file.Contains(name + suffix)) throw new InvalidDataException($"{path}: no optimizer state '{name}{suffix}'");
                using var saved = file.Read(name + suffix);
                if (!saved.shape.SequenceEqual(moment.shape))
                    throw new InvalidDataException($"{path}: '{name}{suffix}' is [{string.Join(", ", saved.shape)}], the parameter's [{string.Join(", ", moment.shape)}]");
                moment.copy_(saved);
            }
            if (!file.Contains(name + ".step")) throw new InvalidDataException($"{path}: no optimizer state '{name}.step'");
            using var step = file.Read(name + ".step");
            var value = step.numel() == 1 ? step.reshape(-1)[0].item<float>() : float.NaN;
            if (!(value >= 0 && value < MaxSavedStep && value == Math.Floor(value)))
                throw new InvalidDataException($"{path}: '{name}.step' is not one whole number of steps");
            _steps[i] = (long)value;
        }
    }

    public void Dispose()
    {
        foreach (var t in _expAvg.Concat(_expAvgSq)) t.Dispose();
        foreach (var s in new[] { _beta1Scalar, _beta2Scalar, _oneMinusBeta1, _oneMinusBeta2, _eps }) s.Dispose();
    }
}
