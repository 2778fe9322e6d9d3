using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Model;

/// <summary>Rotary position embeddings with the RoPE scaling kinds of <see cref="RopeScaling"/>, computed as
/// transformers' Llama does (float32; the scaling's settings in double, as Python computes them).</summary>
public sealed class RotaryEmbedding
{
    readonly Tensor _invFreq; // [head_dim / 2], float32, CPU
    readonly double _attentionScaling = 1; // yarn's: cos and sin are multiplied by it
    Tensor? _invFreqOn; // the same on the device last asked for

    /// <summary>The rotary embedding of <paramref name="config"/>'s attention.</summary>
    public RotaryEmbedding(ModelConfig config) : this(config.HeadDim, config.RopeTheta, config.RopeScaling, config.MaxPositionEmbeddings) { }

    /// <param name="maxPositions">max_position_embeddings: yarn's bounds come from it where the scaling states no
    /// original_max_position_embeddings.</param>
    public RotaryEmbedding(int headDim, double theta, RopeScaling? scaling, int maxPositions)
    {
        // every temporary held by a scope until the end (one no variable holds could be finalized during a native call
        // that still reads it), and the result by this object, not by whatever scope the model is built in; every
        // Scalar held too, for the same reason (see Runtime.Scalars: "Unknown scalar type" from div in one CI run), and
        // each operation the one TorchSharp's operator would run, so the values are the same to the bit
        using var scope = NewDisposeScope();
        using var dim = headDim.ToScalar();
        using var one = 1.0f.ToScalar();
        var exponents = arange(0, headDim, 2, dtype: int64).to(float32).div(dim);
        var powers = pow(tensor((float)theta), exponents); // theta^exponents
        var invFreq = powers.reciprocal().mul(one); // 1 / theta^exponents, as Python's 1.0 / tensor computes it
        // dynamic (NTK) changes the base only for sequences longer than max_position_embeddings, and the pipeline runs
        // none (SpecValidator): below that transformers computes the unscaled frequencies
        if (scaling is { RopeType: "llama3" }) invFreq = Llama3Scale(invFreq, scaling);
        else if (scaling is { RopeType: "linear" }) invFreq = Divided(invFreq, scaling.Factor); // transformers' inv_freq /= factor
        else if (scaling is { RopeType: "yarn" }) (invFreq, _attentionScaling) = Yarn(powers, headDim, theta, scaling, maxPositions);
        _invFreq = invFreq.DetachFromDisposeScope();
    }

    static Tensor Divided(Tensor t, double by)
    {
        using var scalar = by.ToScalar();
        return t.div(scalar);
    }

    /// <summary>transformers' <c>_compute_yarn_parameters</c>: each frequency blended between itself (the fast
    /// dimensions, more than <c>beta_fast</c> rotations over the original context) and itself divided by the factor (the
    /// slow ones, fewer than <c>beta_slow</c>), linearly between; and the attention factor cos and sin are scaled by.
    /// Where original_max_position_embeddings is stated, the factor is max_position_embeddings over it (transformers
    /// reads it so; HfConfigReader refuses a config whose factor says otherwise).</summary>
    static (Tensor InvFreq, double AttentionScaling) Yarn(Tensor powers, int headDim, double theta, RopeScaling s, int maxPositions)
    {
        double original = s.OriginalMaxPositionEmbeddings ?? maxPositions;
        var factor = s.OriginalMaxPositionEmbeddings is { } o ? maxPositions / (double)o : s.Factor;
        static double MscaleOf(double scale, double m) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;
        var attention = s.AttentionFactor ?? (s.Mscale is { } m && m != 0 && s.MscaleAllDim is { } all && all != 0
            ? MscaleOf(factor, m) / MscaleOf(factor, all)
            : MscaleOf(factor, 1));
        double CorrectionDim(double rotations) => headDim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = CorrectionDim(s.BetaFast is { } fast && fast != 0 ? fast : 32), high = CorrectionDim(s.BetaSlow is { } slow && slow != 0 ? slow : 1);
        if (s.Truncate ?? true) (low, high) = (Math.Floor(low), Math.Ceiling(high));
        (low, high) = (Math.Max(low, 0), Math.Min(high, headDim - 1));
        if (low == high) high += 0.001; // transformers' guard against a zero span

        using var one = 1.0f.ToScalar();
        using var factorScalar = factor.ToScalar();
        using var lowScalar = low.ToScalar();
        using var span = (high - low).ToScalar();
        using var zero = 0.ToScalar();
        using var oneInt = 1.ToScalar();
        var extrapolation = powers.reciprocal().mul(one); // 1.0 / pos_freqs
        var interpolation = powers.mul(factorScalar).reciprocal().mul(one); // 1.0 / (factor * pos_freqs)
        var ramp = arange(headDim / 2, dtype: float32).sub(lowScalar).div(span).clamp(zero, oneInt);
        var extrapolationFactor = ramp.negative().add(oneInt); // 1 - ramp
        var invFreq = interpolation.mul(extrapolationFactor.negative().add(oneInt)).add(extrapolation.mul(extrapolationFactor), Runtime.Scalars.One);
        return (invFreq, attention);
    }

    static Tensor Llama3Scale(Tensor invFreq, RopeScaling s)
    {
        var (lowFactor, highFactor, originalMax) = (s.LowFreqFactor!.Value, s.HighFreqFactor!.Value, s.OriginalMaxPositionEmbeddings!.Value);
        using var factor = ((float)s.Factor).ToScalar();
        using var lowFreqWavelen = ((float)(originalMax / lowFactor)).ToScalar();
        using var highFreqWavelen = ((float)(originalMax / highFactor)).ToScalar();
        using var twoPi = (2 * (float)Math.PI).ToScalar();
        using var original = ((float)originalMax).ToScalar();
        using var low = ((float)lowFactor).ToScalar();
        using var span = ((float)(highFactor - lowFactor)).ToScalar();
        using var one = 1.ToScalar();
        var wavelen = invFreq.reciprocal().mul(twoPi); // 2π / invFreq
        var scaled = where(wavelen.gt(lowFreqWavelen), invFreq.div(factor), invFreq);
        var smooth = wavelen.reciprocal().mul(original).sub(low).div(span); // (original / wavelen - low) / (high - low)
        var smoothed = Runtime.Scalars.Add(smooth.negative().add(one, Runtime.Scalars.One).mul(scaled).div(factor), smooth.mul(scaled)); // (1 - smooth) * scaled / factor + smooth * scaled
        var isMedium = wavelen.ge(highFreqWavelen).logical_and(wavelen.le(lowFreqWavelen));
        return where(isMedium, smoothed, scaled);
    }

    /// <summary>The inverse frequencies, [head_dim / 2] in float32 on the CPU (for tests).</summary>
    internal Tensor InverseFrequencies => _invFreq;

    /// <summary>cos and sin of shape [T, head_dim] for positions start..start+T-1, computed on <paramref name="device"/>
    /// (float32 products, the same on every device): a decode step copies nothing from the host, so it can be captured
    /// in a CUDA graph.</summary>
    public (Tensor Cos, Tensor Sin) At(long start, long length, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var positions = arange(start, start + length, dtype: float32, device: device); // integers, exact in float32 to 2^24
        var freqs = positions.unsqueeze(1) * InvFreqOn(device).unsqueeze(0);
        var emb = cat([freqs, freqs], -1);
        var (cos, sin) = (emb.cos(), emb.sin());
        if (_attentionScaling != 1)
        {
            using var scale = _attentionScaling.ToScalar(); // float32 products, as transformers' emb.cos() * attention_scaling
            (cos, sin) = (cos.mul(scale), sin.mul(scale));
        }
        return (cos.to(dtype).MoveToOuterDisposeScope(), sin.to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>The inverse frequencies on <paramref name="device"/>, copied there once and held by this object, not
    /// by the caller's dispose scope.</summary>
    Tensor InvFreqOn(Device device)
    {
        if (device.type == DeviceType.CPU) return _invFreq;
        if (_invFreqOn is { } held && held.device_type == device.type && (device.index < 0 || held.device_index == device.index)) return held;
        var moved = _invFreq.to(device).DetachFromDisposeScope();
        _invFreqOn?.Dispose();
        return _invFreqOn = moved;
    }

    /// <summary>x * cos + rotate_half(x) * sin, for x of shape [B, H, T, D].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var half = x.shape[^1] / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        return (x * cos).add(rotated * sin, Runtime.Scalars.One); // a held alpha: see Runtime.Scalars
    }
}
