using System.ComponentModel;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Spec.Internal;

namespace Puzzle.Engine.Tests.Spec;

/// <summary>A layer override is a partial search space: its fields are the space's, nullable, under the space's rules.</summary>
public sealed class SpaceOverrideTests
{
    public static TheoryData<Type, Type> Overrides() => new()
    {
        { typeof(AttentionOverride), typeof(AttentionSpace) },
        { typeof(FfnOverride), typeof(FfnSpace) },
    };

    [Theory]
    [MemberData(nameof(Overrides))]
    public void An_override_has_every_field_of_its_space_under_the_same_rules(Type overrideType, Type spaceType)
    {
        var overrides = SpecField.Of(overrideType);
        var space = SpecField.Of(spaceType);
        Assert.Equal(space.Select(f => f.Name), overrides.Select(f => f.Name));
        foreach (var (o, s) in overrides.Zip(space))
        {
            Assert.True(o.Nullable, $"{overrideType.Name}.{o.Property.Name} must be nullable: null keeps the global value");
            Assert.Equal(s.Type, o.Type);
            Assert.Equal((s.Bounds, s.Pattern, s.UniqueItems), (o.Bounds, o.Pattern, o.UniqueItems));
        }
    }

    [Fact]
    public void Applying_an_override_changes_only_the_fields_it_sets()
    {
        IReadOnlyList<double> ratios = [0.5];
        var global = new FfnSpace { Ratios = ratios, Linear = false, NoOp = true, RoundTo = 32 };
        var applied = new FfnOverride { Ratios = [0.25], RoundTo = 8 }.ApplyTo(global);
        Assert.Equal([0.25], applied.Ratios);
        Assert.Equal((false, true, 8), (applied.Linear, applied.NoOp, applied.RoundTo));
        Assert.Equal(global, new FfnOverride().ApplyTo(global));
        Assert.Same(ratios, global.Ratios); // the global space is left as it was

        IReadOnlyList<int> kvHeads = [2];
        var attention = new AttentionOverride { Linear = false }.ApplyTo(new AttentionSpace { KvHeads = kvHeads });
        Assert.Equal((kvHeads, false, true), (attention.KvHeads, attention.Linear, attention.NoOp));
    }

    [Fact]
    public void The_last_override_covering_a_layer_wins()
    {
        var space = new SearchSpaceSpec
        {
            Attention = new AttentionSpace { KvHeads = [4, 2] },
            Layers =
            [
                new LayerOverride { Range = "0-3", Attention = new AttentionOverride { NoOp = false } },
                new LayerOverride { Range = "2", Attention = new AttentionOverride { KvHeads = [1] }, Ffn = new FfnOverride { Linear = false } },
            ],
        };
        Assert.Equal([4, 2], space.AttentionFor(1).KvHeads);
        Assert.False(space.AttentionFor(1).NoOp);
        Assert.Equal([1], space.AttentionFor(2).KvHeads);
        Assert.True(space.AttentionFor(2).NoOp);
        Assert.Same(space.Attention, space.AttentionFor(4));
        Assert.False(space.FfnFor(2).Linear);
        Assert.Same(space.Ffn, space.FfnFor(1));
    }

    [Description("an override whose field has no counterpart in its space")]
    sealed record MisspeltOverride : SpaceOverride<AttentionSpace>
    {
        [Description("not a field of AttentionSpace")]
        public IReadOnlyList<int>? Heads { get; init; }
    }

    [Description("an override whose field has another type than its space's")]
    sealed record MistypedOverride : SpaceOverride<AttentionSpace>
    {
        [Description("AttentionSpace.Linear is a bool")]
        public int? Linear { get; init; }
    }

    [Fact]
    public void An_override_field_the_space_lacks_is_refused_by_name()
    {
        var e = Assert.Throws<InvalidOperationException>(() => SpaceOverrides.Mirrored(typeof(MisspeltOverride).GetProperty("Heads")!));
        Assert.Contains("MisspeltOverride.Heads overrides no field of AttentionSpace", e.Message);
        e = Assert.Throws<InvalidOperationException>(() => SpaceOverrides.Mirrored(typeof(MistypedOverride).GetProperty("Linear")!));
        Assert.Contains("MistypedOverride.Linear is a Int32, but AttentionSpace.Linear is a Boolean", e.Message);
    }
}
