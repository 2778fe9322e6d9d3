using Puzzle.Engine.Export;
using Puzzle.Engine.Reporting;

namespace Puzzle.Engine.Tests.Reporting;

/// <summary>The equal-speed comparison on hand-computed curves: linear between the two measured points around the
/// child's speedup, the nearest end within 5% outside the range, no verdict further out.</summary>
public sealed class EqualSpeedTests
{
    static SpeedPoint Point(string model, bool healed, double measured, double kl, double agreement, double retention) =>
        new(model, healed, kl, agreement, retention, new PointSpeedup(measured, measured));

    /// <summary>A baseline measured at 1.2x and 2.4x assembled only, and at 1.8x healed.</summary>
    static readonly MethodCurve Uniform = new("uniform",
    [
        Point("uniform.x2", false, 2.4, 0.20, 0.50, 0.90),
        Point("uniform.x1.25", false, 1.2, 0.02, 0.90, 0.99),
        Point("uniform", true, 1.8, 0.05, 0.80, 0.97),
    ]);

    static SpeedPoint Child(double measured, double kl = 0.03, double agreement = 0.86, double retention = 0.97) =>
        Point("child1", true, measured, kl, agreement, retention);

    [Fact]
    public void Between_two_measured_points_the_baseline_is_read_linearly_in_measured_speedup()
    {
        var v = EqualSpeed.Compare(Child(1.5), Uniform); // halfway between 1.2x and 1.8x

        Assert.Equal("interpolated", v.Placement);
        Assert.Equal(1.5, v.AtSpeedup);
        Assert.Equal(0.035, v.Kl!.Value, 12);
        Assert.Equal(0.85, v.Agreement!.Value, 12);
        Assert.Equal(0.98, v.Retention!.Value, 12);
        Assert.True(v.KlLower); // 0.03 < 0.035
        Assert.True(v.AgreementHigher); // 86% > 85%
        Assert.False(v.RetentionHigher); // 97% < 98%
        Assert.True(v.Beats); // KL and agreement: fidelity to the parent
        Assert.False(v.HealedOnly); // uniform.x1.25 was not healed
        Assert.Contains("uniform.x1.25 (1.20x, assembled only) and uniform (1.80x, healed)", v.Rule);

        var faster = EqualSpeed.Compare(Child(2.25), Uniform); // (2.25 - 1.8) / (2.4 - 1.8) = 0.75 of the way to 2.4x
        Assert.Equal(0.05 * 0.25 + 0.20 * 0.75, faster.Kl!.Value, 12);
        Assert.Equal(0.80 * 0.25 + 0.50 * 0.75, faster.Agreement!.Value, 12);
    }

    [Fact]
    public void A_child_worse_than_the_line_loses_even_where_it_beats_the_nearest_healed_point()
    {
        // 0.045 is below the healed uniform's 0.05 at 1.8x, but at the child's 1.35x uniform reads 0.02 + 0.25 × 0.03 = 0.0275
        var v = EqualSpeed.Compare(Child(1.35, kl: 0.045, agreement: 0.95), Uniform);

        Assert.Equal(0.0275, v.Kl!.Value, 12);
        Assert.False(v.KlLower);
        Assert.True(v.AgreementHigher);
        Assert.False(v.Beats);
    }

    [Theory]
    [InlineData(1.15, "nearest", 0.02)]      // 0.05 below 1.2x: within 5% of 1.2 (0.06), that end stands for the curve
    [InlineData(2.5, "nearest", 0.20)]       // 0.1 above 2.4x: within 5% of 2.4 (0.12)
    [InlineData(1.1, "outside_range", null)] // 0.1 below 1.2x: more than 0.06
    [InlineData(2.6, "outside_range", null)] // 0.2 above 2.4x: more than 0.12
    public void Outside_the_measured_range_only_the_nearest_end_within_five_percent_counts(double speedup, string placement, double? kl)
    {
        var v = EqualSpeed.Compare(Child(speedup), Uniform);

        Assert.Equal(placement, v.Placement);
        Assert.Equal(kl, v.Kl);
        if (kl is null)
        {
            Assert.Null(v.Beats);
            Assert.Null(v.KlLower);
            Assert.Contains("outside uniform's measured range 1.20x-2.40x", v.Rule);
        }
        else Assert.NotNull(v.Beats);
    }

    [Fact]
    public void A_single_healed_point_compares_only_at_about_its_own_speed()
    {
        var shortgpt = new MethodCurve("shortgpt", [Point("shortgpt", true, 1.9, 0.08, 0.6, 0.9)]);

        var same = EqualSpeed.Compare(Child(1.9), shortgpt);
        Assert.Equal("interpolated", same.Placement);
        Assert.Equal(0.08, same.Kl);
        Assert.True(same.HealedOnly);
        Assert.Equal("outside_range", EqualSpeed.Compare(Child(1.5), shortgpt).Placement); // 1.9x is 21% away
        Assert.Equal("outside_range", EqualSpeed.Compare(Child(1.5), new MethodCurve("random", [])).Placement);
    }

    [Fact]
    public void Locate_takes_points_in_any_order_and_halves_between_two_at_the_same_speed()
    {
        var r = EqualSpeed.Locate([2.0, 1.0, 3.0], 2.5);
        Assert.Equal((EqualSpeed.Placement.Interpolated, 0, 2, 0.5), (r.Placement, r.Low, r.High, r.Weight));
        Assert.Equal(25.0, r.Of([20, 10, 30]));

        var tie = EqualSpeed.Locate([1.5, 1.5], 1.5);
        Assert.Equal(0.5, tie.Weight);
        Assert.Equal(0.3, tie.Of([0.2, 0.4])!.Value, 12);
        Assert.Throws<ArgumentException>(() => EqualSpeed.Locate([], 1));
    }
}
