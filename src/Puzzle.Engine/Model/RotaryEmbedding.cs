using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Model;

/// <summary>Rotary position embeddings with optional Llama-3 frequency scaling, computed as transformers does (float32).</summary>
public sealed class RotaryEmbedding
{
    readonly Tensor _invFreq; // [head_dim / 2], float32, CPU
    Tensor? _invFreqOn; // the same on the device last asked for

    public RotaryEmbedding(int headDim, double theta, RopeScaling? scaling)
    {
        // every temporary held by a scope until the end (one no variable holds could be finalized during a native call
        // that still reads it), and the result by this object, not by whatever scope the model is built in; every
        // Scalar held too, for the same reason (see Runtime.Scalars: "Unknown scalar type" from div in one CI run), and
        // each operation the one TorchSharp's operator would run, so the values are the same to the bit
        using var scope = NewDisposeScope();
        using var dim = headDim.ToScalar();
        using var one = 1.0f.ToScalar();
        var exponents = arange(0, headDim, 2, dtype: int64).to(float32).div(dim);
        var invFreq = pow(tensor((float)theta), exponents).reciprocal().mul(one); // 1 / theta^exponents
        if (scaling is { RopeType: "llama3" } s) invFreq = Llama3Scale(invFreq, s);
        _invFreq = invFreq.DetachFromDisposeScope();
    }

    static Tensor Llama3Scale(Tensor invFreq, RopeScaling s)
    {
        using var factor = ((float)s.Factor).ToScalar();
        using var lowFreqWavelen = ((float)(s.OriginalMaxPositionEmbeddings / s.LowFreqFactor)).ToScalar();
        using var highFreqWavelen = ((float)(s.OriginalMaxPositionEmbeddings / s.HighFreqFactor)).ToScalar();
        using var twoPi = (2 * (float)Math.PI).ToScalar();
        using var original = ((float)s.OriginalMaxPositionEmbeddings).ToScalar();
        using var low = ((float)s.LowFreqFactor).ToScalar();
        using var span = ((float)(s.HighFreqFactor - s.LowFreqFactor)).ToScalar();
        using var one = 1.ToScalar();
        var wavelen = invFreq.reciprocal().mul(twoPi); // 2π / invFreq
        var scaled = where(wavelen.gt(lowFreqWavelen), invFreq.div(factor), invFreq);
        var smooth = wavelen.reciprocal().mul(original).sub(low).div(span); // (original / wavelen - low) / (high - low)
        var smoothed = Runtime.Scalars.Add(smooth.negative().add(one, Runtime.Scalars.One).mul(scaled).div(factor), smooth.mul(scaled)); // (1 - smooth) * scaled / factor + smooth * scaled
        var isMedium = wavelen.ge(highFreqWavelen).logical_and(wavelen.le(lowFreqWavelen));
        return where(isMedium, smoothed, scaled);
    }

    /// <summary>cos and sin of shape [T, head_dim] for positions start..start+T-1, computed on <paramref name="device"/>
    /// (float32 products, the same on every device): a decode step copies nothing from the host, so it can be captured
    /// in a CUDA graph.</summary>
    public (Tensor Cos, Tensor Sin) At(long start, long length, Device device, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var positions = arange(start, start + length, dtype: float32, device: device); // integers, exact in float32 to 2^24
        var freqs = positions.unsqueeze(1) * InvFreqOn(device).unsqueeze(0);
        var emb = cat([freqs, freqs], -1);
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
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
