using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// Accumulates XᵀX and XᵀY (float64) over batches of inputs X [N, d_in] and targets Y [N, d_out], and solves the
/// ridge least-squares problem min_W ||X·Wᵀ − Y||² + λ·||W||² for W [d_out, d_in] with λ = ridge · tr(XᵀX) / d_in,
/// so <c>ridge</c> is relative to the inputs' mean squared norm per dimension and does not depend on their scale.
/// </summary>
public sealed class NormalEquations : IDisposable
{
    readonly Tensor _xtx, _xty;
    const long SliceRows = 512;

    public NormalEquations(long inputs, long outputs, Device? device = null)
    {
        _xtx = zeros([inputs, inputs], dtype: float64, device: device);
        _xty = zeros([inputs, outputs], dtype: float64, device: device);
    }

    /// <summary>Rows accumulated so far.</summary>
    public long Rows { get; private set; }

    /// <summary>Adds inputs [..., d_in] and targets [..., d_out] with the same leading shape.</summary>
    public void Add(Tensor inputs, Tensor targets)
    {
        long dIn = _xtx.shape[0], dOut = _xty.shape[1];
        if (inputs.shape[^1] != dIn || targets.shape[^1] != dOut || inputs.numel() / dIn != targets.numel() / dOut)
            throw new ArgumentException(
                $"inputs [{string.Join(", ", inputs.shape)}] and targets [{string.Join(", ", targets.shape)}] do not fit d_in={dIn}, d_out={dOut}");
        using var scope = NewDisposeScope();
        var x = inputs.detach().reshape(-1, dIn).to(float64).to(_xtx.device);
        var y = targets.detach().reshape(-1, dOut).to(float64).to(_xtx.device);
        // in slices of rows, added one after another: a matrix product over many rows may split its sums between
        // threads (and then round by the thread count), one over a few hundred rows does not
        for (long start = 0; start < x.shape[0]; start += SliceRows)
        {
            var n = Math.Min(SliceRows, x.shape[0] - start);
            var xs = x.narrow(0, start, n);
            _xtx.add_(xs.t().matmul(xs), Runtime.Scalars.One); // a held alpha: add_(tensor) alone passes a temporary one (see Runtime.Scalars)
            _xty.add_(xs.t().matmul(y.narrow(0, start, n)), Runtime.Scalars.One);
        }
        Rows += x.shape[0];
    }

    /// <summary>The minimiser W [d_out, d_in] in float32.</summary>
    public Tensor Solve(double ridge)
    {
        if (Rows == 0) throw new InvalidOperationException("least squares needs at least one row");
        if (ridge < 0 || !double.IsFinite(ridge)) throw new ArgumentOutOfRangeException(nameof(ridge), ridge, "ridge must be finite and ≥ 0");
        using var scope = NewDisposeScope();
        var d = _xtx.shape[0];
        var lambda = ridge * _xtx.trace().item<double>() / d;
        var a = Runtime.Scalars.Add(_xtx, lambda * eye(d, dtype: float64, device: _xtx.device));
        var wt = linalg.solve(a, _xty); // [d_in, d_out]
        return wt.t().contiguous().to(float32).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _xtx.Dispose();
        _xty.Dispose();
    }
}
