using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Spec;

public sealed class SpecSliceTests
{
    const string Yaml = """
        name: slice
        parent: { pretrain: { layers: 2, tokens: 1_000 } }
        data: { npm: [{ package: a@1, files: x.txt }], seq_len: 64 }
        bld: { lr: 1e-3, tokens: 2e3 }
        export: { format: nemotron-nas }
        """;

    static PipelineSpec Load(string yaml = Yaml) => SpecLoader.Parse(yaml, "slice.yaml", Path.GetTempPath());

    [Fact]
    public void The_same_spec_gives_byte_identical_slices()
    {
        var a = SpecSlice.Of(Load(), "bld", "data", "parent.pretrain", "export").ToJsonString();
        var b = SpecSlice.Of(Load(), "export", "parent.pretrain", "data", "bld").ToJsonString();
        Assert.Equal(a, b);
    }

    [Fact]
    public void A_slice_holds_exactly_the_requested_fields_with_defaults_sorted_and_canonical()
    {
        var slice = SpecSlice.Of(Load(), "data.seq_len", "bld", "export.format", "constraints.memory_vs_parent");

        Assert.Equal(
            """{"bld":{"batch":8,"grad_clip":1,"init":"least_squares","layers_per_process":0,"lr":0.001,"min_lr_ratio":0.1,"mode":"decoupled","seed":0,"tokens":2000,"variants":[],"warmup_fraction":0.05,"weight_decay":0},"constraints":{"memory_vs_parent":null},"data":{"seq_len":64},"export":{"format":"nemotron_nas"}}""",
            slice.ToJsonString());
    }

    [Fact]
    public void Writing_a_default_or_another_spelling_does_not_change_the_slice()
    {
        var a = SpecSlice.Of(Load(), "bld", "export").ToJsonString();
        var b = SpecSlice.Of(Load(Yaml.Replace("lr: 1e-3", "lr: 0.001, mode: decoupled").Replace("nemotron-nas", "nemotron_nas").Replace("2e3", "2_000")), "bld", "export").ToJsonString();
        Assert.Equal(a, b);
    }

    [Fact]
    public void Changing_bld_lr_changes_only_slices_that_include_it()
    {
        var before = Load();
        var after = Load(Yaml.Replace("lr: 1e-3", "lr: 3e-4"));

        Assert.NotEqual(SpecSlice.Of(before, "bld").ToJsonString(), SpecSlice.Of(after, "bld").ToJsonString());
        Assert.Equal(SpecSlice.Of(before, "data").ToJsonString(), SpecSlice.Of(after, "data").ToJsonString());
        Assert.Equal(SpecSlice.Of(before, "bld.tokens").ToJsonString(), SpecSlice.Of(after, "bld.tokens").ToJsonString());
        Assert.Equal(["bld.lr"], SpecSlice.Diff(SpecSlice.Of(before, "bld", "data"), SpecSlice.Of(after, "bld", "data")));
    }

    [Fact]
    public void Diff_names_nested_list_and_missing_fields()
    {
        var old = JsonNode.Parse("""{"a":{"b":1,"c":[1,2],"d":[{"e":1}]},"gone":1}""")!.AsObject();
        var now = JsonNode.Parse("""{"a":{"b":1,"c":[1,2,3],"d":[{"e":2}]},"new":1}""")!.AsObject();
        Assert.Equal(["a.c", "a.d[0].e", "gone", "new"], SpecSlice.Diff(old, now));
        Assert.Empty(SpecSlice.Diff(old, old.DeepClone().AsObject()));
    }

    [Fact]
    public void An_unknown_path_is_an_error_with_a_suggestion()
    {
        var e = Assert.Throws<ArgumentException>(() => SpecSlice.Of(Load(), "bld", "data.seqlen"));
        Assert.Contains("no field 'seqlen'; did you mean 'seq_len'?", e.Message);
        Assert.Throws<ArgumentException>(() => SpecSlice.Of(Load(), "parent.path.x"));
    }
}
