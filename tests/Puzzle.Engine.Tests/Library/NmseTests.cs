using Puzzle.Engine.Library;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

public class NmseTests
{
    [Fact]
    public void Identical_is_zero_zeros_is_one_and_it_is_scale_invariant()
    {
        Fixtures.Torch();
        using var generator = new Generator(1);
        using var parent = randn([3, 5, 7], generator: generator);
        using var child = parent + 0.3 * randn([3, 5, 7], generator: generator);
        Assert.Equal(0, Nmse.Value(parent, parent));
        Assert.Equal(1.0, Nmse.Value(zeros_like(parent), parent), 1e-6);
        var nmse = Nmse.Value(child, parent);
        Assert.InRange(nmse, 0.01, 0.5);
        Assert.Equal(nmse, Nmse.Value(child * 1000, parent * 1000), 1e-5);
        Assert.Equal(nmse, Nmse.Value(child * 1e-3, parent * 1e-3), 1e-5);
    }

    [Fact]
    public void It_is_differentiable()
    {
        Fixtures.Torch();
        using var generator = new Generator(2);
        using var parent = randn([4, 6], generator: generator);
        using var child = randn([4, 6], generator: generator).requires_grad_();
        using var loss = Nmse.Of(child, parent);
        loss.backward();
        // d/dc mean((c−p)²)/mean(p²) = 2(c−p) / (n·mean(p²))
        using var expected = 2 * (child.detach() - parent) / (24 * Scalars.Square(parent).mean());
        Assert.True(child.grad!.allclose(expected, rtol: 1e-5, atol: 1e-7));
    }

    [Fact]
    public void Different_shapes_are_refused()
    {
        Fixtures.Torch();
        Assert.Throws<ArgumentException>(() => Nmse.Of(zeros(2, 3), zeros(3, 2)));
    }
}
