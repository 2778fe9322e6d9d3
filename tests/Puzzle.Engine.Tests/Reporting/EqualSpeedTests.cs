using Puzzle.Engine.Export;
using Puzzle.Engine.Reporting;

namespace Puzzle.Engine.Tests.Reporting;

/// <summary>The equal-speed comparison on hand-computed curves: linear between the two measured speeds around the
/// child's speedup, each never worse than the baseline's models measured at least as fast, the nearest end within 5%
/// outside the range, no verdict further out.</summary>
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
    public void Locate_reads_between_distinct_ascending_speeds_and_a_speed_hit_exactly_as_it_is()
    {
        var r = EqualSpeed.Locate([1.0, 2.0, 3.0], 2.5);
        Assert.Equal((EqualSpeed.Placement.Interpolated, 1, 2, 0.5), (r.Placement, r.Low, r.High, r.Weight));
        Assert.Equal(25.0, r.Of([10, 20, 30]));
        // a measured point hit exactly is that point's value: a neighbour with no value does not enter
        var hit = EqualSpeed.Locate([1.0, 2.0, 3.0], 2.0);
        Assert.Equal(20.0, hit.Of([null, 20, 30]));
        Assert.Null(EqualSpeed.Locate([1.0, 2.0, 3.0], 1.5).Of([null, 20, 30]));

        Assert.Throws<ArgumentException>(() => EqualSpeed.Locate([], 1));
        Assert.Contains("distinct and ascending", Assert.Throws<ArgumentException>(() => EqualSpeed.Locate([1.5, 1.5], 1.5)).Message);
        Assert.Throws<ArgumentException>(() => EqualSpeed.Locate([2.0, 1.0], 1.5));
    }

    [Fact]
    public void Two_models_measured_at_the_same_speed_are_one_point_the_better_of_them_in_any_order()
    {
        // equal architectures are timed once: the healed uniform and the Sweep's uniform.x1.25 both measured 1.5x
        MethodCurve Curve(bool healedFirst)
        {
            SpeedPoint[] same = [Point("uniform", true, 1.5, 0.02, 0.85, 0.97), Point("uniform.x1.25", false, 1.5, 0.40, 0.55, 0.90)];
            return new("uniform", [Point("uniform.x1", false, 1.0, 0.01, 0.95, 0.99), .. healedFirst ? same : same.Reverse(), Point("uniform.x2", false, 2.0, 0.50, 0.50, 0.85)]);
        }
        foreach (var healedFirst in new[] { true, false })
        {
            // just above 1.5x: a hair from the healed model's 0.02, not the assembled one's 0.40 (which made the child "beat" it)
            var v = EqualSpeed.Compare(Child(1.51, kl: 0.05, agreement: 0.86), Curve(healedFirst));
            Assert.Equal(0.02 + 0.02 * 0.48, v.Kl!.Value, 12);
            Assert.Equal(0.85 - 0.02 * 0.35, v.Agreement!.Value, 12);
            Assert.False(v.KlLower);
            Assert.False(v.Beats);
            Assert.Equal("interpolated at 1.51x between uniform (1.50x, healed) and uniform.x2 (2.00x, assembled only)", v.Rule);

            // at it, and within 5% below a curve that starts there: the healed model, as it is
            var at = EqualSpeed.Compare(Child(1.5), Curve(healedFirst) with { Points = Curve(healedFirst).Points.Skip(1).ToList() });
            Assert.Equal((0.02, 0.85, "at uniform (1.50x, healed)", true), (at.Kl!.Value, at.Agreement!.Value, at.Rule, at.HealedOnly));
            var below = EqualSpeed.Compare(Child(1.45), Curve(healedFirst) with { Points = Curve(healedFirst).Points.Skip(1).ToList() });
            Assert.Equal(("nearest", 0.02), (below.Placement, below.Kl!.Value));
        }
    }

    [Fact]
    public void A_faster_model_of_the_baseline_with_better_values_stands_for_a_slower_one()
    {
        // noise: uniform's healed model for the 1.5x target measured 1.62x, its assembled 2x model 1.55x; the child at
        // 1.56x read between them (0.30 - (0.25 / 7)) "beat" uniform, whose healed model is faster and lower in KL
        var uniform = new MethodCurve("uniform", [Point("uniform", true, 1.62, 0.05, 0.80, 0.97), Point("uniform.x2", false, 1.55, 0.30, 0.55, 0.90)]);

        var v = EqualSpeed.Compare(Child(1.56, kl: 0.06, agreement: 0.86), uniform);

        Assert.Equal("interpolated", v.Placement);
        Assert.Equal(0.05, v.Kl!.Value, 12); // not 0.2643
        Assert.Equal(0.80, v.Agreement!.Value, 12);
        Assert.Equal(0.97, v.Retention!.Value, 12);
        Assert.False(v.KlLower);
        Assert.False(v.Beats);
        Assert.True(v.HealedOnly); // only the healed model's values enter
        Assert.Equal("interpolated at 1.56x between 1.55x (uniform (1.62x, healed)) and 1.62x (uniform (1.62x, healed)); " +
                     "a model of theirs measured faster and better stands for a slower one (it serves at that speed too)", v.Rule);

        // per measure: a faster model better in KL only stands for KL
        var mixed = new MethodCurve("uniform", [Point("uniform.x1.25", false, 1.2, 0.08, 0.90, 0.99), Point("uniform", true, 1.8, 0.05, 0.80, 0.97)]);
        var m = EqualSpeed.Compare(Child(1.5), mixed);
        Assert.Equal((0.05, 0.85, 0.98), (m.Kl!.Value, Math.Round(m.Agreement!.Value, 12), Math.Round(m.Retention!.Value, 12)));
        Assert.Contains("between 1.20x (uniform (1.80x, healed) for KL, uniform.x1.25 (1.20x, assembled only) for agreement and retention) and 1.80x", m.Rule);
    }

    [Fact]
    public void A_value_that_is_not_finite_is_left_out_and_not_read_into_its_neighbours()
    {
        // uniform.x1's evaluation diverged (KL NaN), uniform.x2's overflowed (KL infinite)
        var uniform = new MethodCurve("uniform",
        [
            Point("uniform.x1", false, 1.0, double.NaN, 0.90, 0.99), Point("uniform", true, 1.5, 0.02, 0.80, 0.97),
            Point("uniform.x2", false, 2.0, double.PositiveInfinity, 0.50, 0.90),
        ]);

        // at the healed model's own speed its KL, not NaN × 0 + 0.02
        var at = EqualSpeed.Compare(Child(1.5), uniform);
        Assert.Equal(0.02, at.Kl);
        Assert.StartsWith("at uniform (1.50x, healed); uniform.x1's KL is NaN (its evaluation diverged): left out", at.Rule);
        // between 1.5x and 2x no KL is measured: not "lower than infinity"
        var faster = EqualSpeed.Compare(Child(1.8), uniform);
        Assert.Null(faster.Kl);
        Assert.Null(faster.KlLower);
        Assert.Null(faster.Beats);
        Assert.Equal(0.62, faster.Agreement!.Value, 12);
        Assert.EndsWith("uniform.x2's KL is Infinity (its evaluation diverged): left out; KL not compared: no model of theirs measured at 2.00x or faster has one", faster.Rule);
        // below 1.5x the healed model, faster and finite, stands for KL
        Assert.Equal(0.02, EqualSpeed.Compare(Child(1.2), uniform).Kl);
    }

    [Fact]
    public void A_child_at_a_measured_point_is_compared_with_that_point_alone()
    {
        var v = EqualSpeed.Compare(Child(1.8), Uniform);

        Assert.Equal((0.05, 0.80, 0.97), (v.Kl!.Value, v.Agreement!.Value, v.Retention!.Value));
        Assert.Equal("at uniform (1.80x, healed)", v.Rule);
        Assert.True(v.HealedOnly); // the assembled-only neighbours do not enter
    }
}
