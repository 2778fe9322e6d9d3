using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

public class LeastSquaresTests(ITestOutputHelper output)
{
    [Fact]
    public void Recovers_a_known_weight_from_noiseless_data()
    {
        Fixtures.Torch();
        using var generator = new Generator(40);
        using var w = randn([5, 8], generator: generator);
        using var x = randn([4, 50, 8], generator: generator);
        using var y = x.matmul(w.t());
        using var fitted = Initialisers.LeastSquares(x, y, ridge: 0);
        Assert.Equal(ScalarType.Float32, fitted.dtype);
        Assert.True(fitted.allclose(w, rtol: 0, atol: 1e-4));
        // a tiny relative ridge barely moves it
        using var ridged = Initialisers.LeastSquares(x, y, ridge: 1e-8);
        Assert.True(ridged.allclose(w, rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void Accumulating_batches_gives_the_same_fit_as_one_batch()
    {
        Fixtures.Torch();
        using var generator = new Generator(41);
        using var x = randn([300, 6], generator: generator);
        using var y = randn([300, 3], generator: generator);
        using var whole = Initialisers.LeastSquares(x, y, ridge: 1e-3);
        using var equations = new NormalEquations(6, 3);
        equations.Add(x[..100], y[..100]);
        equations.Add(x[100..], y[100..]);
        Assert.Equal(300, equations.Rows);
        using var pieces = equations.Solve(1e-3);
        Assert.True(pieces.allclose(whole, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Ridge_shrinks_the_weight()
    {
        Fixtures.Torch();
        using var generator = new Generator(42);
        using var x = randn([40, 6], generator: generator);
        using var y = randn([40, 2], generator: generator);
        using var plain = Initialisers.LeastSquares(x, y, ridge: 0);
        using var ridged = Initialisers.LeastSquares(x, y, ridge: 1);
        Assert.True(Scalars.Square(ridged).sum().item<float>() < Scalars.Square(plain).sum().item<float>());
        Assert.Throws<ArgumentOutOfRangeException>(() => Initialisers.LeastSquares(x, y, ridge: -1));
    }

    [Fact]
    public void Least_squares_beats_the_papers_linear_attention_and_linear_ffn_on_parent_activations()
    {
        var config = ParentBlock.Config(kvHeads: 2);
        using var block = ParentBlock.Create(config, 43);
        using var _ = no_grad();
        using var x = ParentBlock.Activations(44, batch: 4, tokens: 64);
        using var heldoutX = ParentBlock.Activations(45, batch: 4, tokens: 64);
        var (cos, sin) = ParentBlock.Rope(config, 64);
        using var h = Scalars.Add(x, block.AttentionOutput(x, cos, sin, null, 0));
        using var heldoutH = Scalars.Add(heldoutX, block.AttentionOutput(heldoutX, cos, sin, null, 0));

        var attention = InitCandidates.Attention(config, block, AttentionConfig.Linear, x);
        var ffn = InitCandidates.Ffn(block, FfnConfig.Linear, h);
        var reports = new[]
        {
            InitReport.Attention(config, block, AttentionConfig.Linear, attention, x),
            InitReport.Ffn(block, FfnConfig.Linear, ffn, h),
        };
        var heldout = new[]
        {
            InitReport.Attention(config, block, AttentionConfig.Linear, attention, heldoutX),
            InitReport.Ffn(block, FfnConfig.Linear, ffn, heldoutH),
        };
        foreach (var r in reports) output.WriteLine($"fit data (256 tokens): {r}");
        foreach (var r in heldout) output.WriteLine($"held-out (256 tokens): {r}");

        foreach (var r in reports)
        {
            Assert.Equal(new[] { InitCandidates.LeastSquares, InitCandidates.Paper }, r.Nmse.Keys.Order());
            Assert.True(r.Nmse[InitCandidates.LeastSquares] <= r.Nmse[InitCandidates.Paper], r.ToString());
            Assert.InRange(r.Nmse[InitCandidates.LeastSquares], 0, 1); // never worse than a no-op on its own data
            Assert.Equal(InitCandidates.LeastSquares, r.Best);
        }
    }

    [Fact]
    public void Reports_cover_every_variant_kind()
    {
        var config = ParentBlock.Config(kvHeads: 4);
        using var block = ParentBlock.Create(config, 46);
        using var _ = no_grad();
        using var x = ParentBlock.Activations(47);
        var (cos, sin) = ParentBlock.Rope(config, x.shape[1]);
        using var h = Scalars.Add(x, block.AttentionOutput(x, cos, sin, null, 0));

        var same = InitReport.Attention(config, block, AttentionConfig.Gqa(4), InitCandidates.Attention(config, block, AttentionConfig.Gqa(4), x), x);
        Assert.Equal(0.0, same.Nmse[InitCandidates.Paper], 1e-6);
        var gqa1 = InitReport.Attention(config, block, AttentionConfig.Gqa(1), InitCandidates.Attention(config, block, AttentionConfig.Gqa(1), x), x);
        Assert.Equal("gqa1", gqa1.Variant);
        Assert.True(gqa1.Nmse[InitCandidates.Paper] > 0);
        var full = InitReport.Ffn(block, FfnConfig.SwiGlu(ParentBlock.Width), InitCandidates.Ffn(block, FfnConfig.SwiGlu(ParentBlock.Width), h), h);
        Assert.Equal(0.0, full.Nmse[InitCandidates.Paper], 1e-6);
        var half = InitReport.Ffn(block, FfnConfig.SwiGlu(32), InitCandidates.Ffn(block, FfnConfig.SwiGlu(32), h), h);
        Assert.InRange(half.Nmse[InitCandidates.Paper], 1e-6, 1);
        var noOp = InitReport.Ffn(block, FfnConfig.NoOp, InitCandidates.Ffn(block, FfnConfig.NoOp, h), h);
        Assert.Empty(noOp.Nmse);
        Assert.Null(noOp.Best);
        foreach (var r in new[] { same, gqa1, full, half }) output.WriteLine(r.ToString());
    }
}
