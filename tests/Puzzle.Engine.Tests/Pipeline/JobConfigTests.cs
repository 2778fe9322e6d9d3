using System.Collections;
using System.Reflection;
using Puzzle.Engine.Library;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// A job's key is its config record's canonical JSON: every field of every stage's record changes the key (a field a
/// stage reads can never be a silent stale cache hit), [NotInKey] ones do not, and the JSON is canonical.
/// </summary>
public sealed class JobConfigTests
{
    const string Yaml = """
        name: slice
        parent: { pretrain: { layers: 2, tokens: 1_000 } }
        data: { npm: [{ package: a@1.0.0, files: x.txt }], seq_len: 64 }
        bld: { lr: 1e-3, tokens: 2e3 }
        export: { format: nemotron-nas }
        """;

    static PipelineSpec Load(string yaml = Yaml) => SpecLoader.Parse(yaml, "slice.yaml", Path.GetTempPath());

    /// <summary>bld's training settings, its mode and the export section, at their spec paths.</summary>
    sealed record Probe([property: SpecPath("bld")] TrainingSpec Training, [property: SpecPath("bld.mode")] BldMode Mode,
        [property: SpecPath("export")] ExportSpec Export, int Layer, [property: NotInKey("test")] string Where)
    {
        public static Probe Of(PipelineSpec s, string where = "here") => new(s.Bld.Training, s.Bld.Mode, s.Export, 3, where);
    }

    [Fact]
    public void A_record_is_keyed_at_its_spec_paths_sorted_with_every_default_and_without_its_not_in_key_fields()
    {
        Assert.Equal(
            """{"bld":{"batch":8,"grad_clip":1,"lr":0.001,"lr_reference_width":192,"min_lr_ratio":0.1,"mode":"decoupled","seed":0,"tokens":2000,"warmup_steps":10,"weight_decay":0},"export":{"base_model":null,"dtype":null,"format":"nemotron_nas","license":null,"runtime":"any"},"layer":3}""",
            JobConfig.ToJson(Probe.Of(Load())).ToJsonString());
        Assert.Equal(JobConfig.ToJson(Probe.Of(Load())).ToJsonString(), JobConfig.ToJson(Probe.Of(Load(), "elsewhere")).ToJsonString());
    }

    sealed record Before(int Layer);
    sealed record After(int Layer, [property: KeyedWhenSet] string? Dtype = null);

    [Fact]
    public void A_field_keyed_when_set_leaves_the_key_as_it_was_while_it_is_null()
    {
        Assert.Equal(JobConfig.ToJson(new Before(3)).ToJsonString(), JobConfig.ToJson(new After(3)).ToJsonString());
        Assert.Equal("""{"dtype":"bfloat16","layer":3}""", JobConfig.ToJson(new After(3, "bfloat16")).ToJsonString());
    }

    [Fact]
    public void Writing_a_default_or_another_spelling_does_not_change_the_key_and_a_change_names_its_spec_path()
    {
        var a = JobConfig.ToJson(Probe.Of(Load()));
        var b = JobConfig.ToJson(Probe.Of(Load(Yaml.Replace("lr: 1e-3", "lr: 0.001, mode: decoupled").Replace("nemotron-nas", "nemotron_nas").Replace("2e3", "2_000"))));
        Assert.Equal(a.ToJsonString(), b.ToJsonString());
        var c = JobConfig.ToJson(Probe.Of(Load(Yaml.Replace("lr: 1e-3", "lr: 3e-4"))));
        Assert.Equal(["bld.lr"], Puzzle.Engine.Pipeline.Execution.PipelineStatus.ChangedFields(a, c));
    }

    [Fact]
    public void Every_field_of_every_stage_record_changes_its_key_and_not_in_key_fields_do_not()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var graph = PipelineGraph.Plan(repo.Load(), PuzzleStages.All());
        var fetch = PipelineGraph.Plan(Load(), PuzzleStages.All()).Jobs["Fetch"]; // the micro spec's text is local
        var checkedFields = 0;
        foreach (var stage in PuzzleStages.All())
        {
            var job = (stage.Name == "Fetch" ? fetch : graph.Jobs[stage.Name]).First();
            Assert.False(job.Config is System.Text.Json.Nodes.JsonNode, $"{job.Name}: config is JSON, not a record");
            var before = JobConfig.ToJson(job.Config).ToJsonString();
            foreach (var (path, changed, keyed) in Mutations(job.Config, job.Config.GetType().Name))
            {
                var after = JobConfig.ToJson(changed).ToJsonString();
                if (keyed) Assert.True(before != after, $"{job.Name}: changing {path} does not change the key");
                else Assert.True(before == after, $"{job.Name}: {path} is [NotInKey] but changes the key");
                checkedFields++;
            }
        }
        Assert.True(checkedFields > 100, $"only {checkedFields} fields checked");
    }

    [Fact]
    public void No_stage_reads_or_writes_a_stage_output_as_untyped_json()
    {
        var offenders = new[] { Path.Combine("Puzzle.Engine", "Pipeline", "Stages"), Path.Combine("Puzzle.Engine", "Reporting") }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(TestRepo.Source, "src", d), "*.cs"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => x.line.Contains("JsonNode.Parse(File.ReadAllText") || x.line.Contains("JsonDocument.Parse(File.ReadAllText(Path.Combine(context")
                        || x.line.Contains(".ToJsonString(") || x.line.Contains("JsonSerializer.Deserialize<MeasuredCost>"))
            .Select(x => $"{Path.GetFileName(x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.Empty(offenders);
    }

    [Fact]
    public void No_stage_reads_a_job_config_or_the_spec_by_string()
    {
        var src = Path.Combine(TestRepo.Source, "src");
        var offenders = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => x.line.Contains("Config[\"") || x.line.Contains("ConfigJson[") || x.line.Contains("SpecSlice."))
            .Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.Empty(offenders);
    }

    /// <summary>For each leaf field of <paramref name="record"/> (into spec records and job records, not into lists):
    /// a copy with that field changed, and whether the key should see it.</summary>
    static IEnumerable<(string Path, object Changed, bool Keyed)> Mutations(object record, string path, bool keyed = true)
    {
        foreach (var p in record.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is not null))
        {
            var value = p.GetValue(record);
            var here = $"{path}.{p.Name}";
            var isKeyed = keyed && p.GetCustomAttribute<NotInKeyAttribute>() is null;
            IEnumerable<(string, object?, bool)> changes = Changed(value, p.PropertyType) is { } leaf
                ? [(here, leaf, isKeyed)]
                : value is not null && IsRecord(value.GetType())
                    ? Mutations(value, here, isKeyed).Select(m => (m.Path, (object?)m.Changed, m.Keyed))
                    : [];
            foreach (var (where, changed, k) in changes)
            {
                var copy = Clone(record);
                p.SetValue(copy, changed);
                yield return (where, copy, k);
            }
        }
    }

    static bool IsRecord(Type t) => t.GetMethod("<Clone>$") is not null;

    static object Clone(object record) => record.GetType().GetMethod("<Clone>$")!.Invoke(record, null)!;

    /// <summary>Another value of a leaf field, or null where the field is a record to walk into.</summary>
    static object? Changed(object? value, Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return value switch
        {
            int i => i + 1,
            long l => l + 1,
            double d => d * 2 + 1,
            bool b => !b,
            string s => s + "x",
            Enum e => Enum.GetValues(e.GetType()).Cast<object>().First(v => !v.Equals(e)),
            IList list when t.IsGenericType => Shorter(list, t),
            null when t == typeof(string) => "x",
            null when t == typeof(int) => 1,
            null when t == typeof(long) => 1L,
            null when t == typeof(double) => 1.5,
            null when t.IsEnum => Enum.GetValues(t).GetValue(0),
            _ when value is not null && !IsRecord(value.GetType()) => throw new InvalidOperationException($"no other value for {type.Name}"),
            _ => null,
        };
    }

    /// <summary>A list one item shorter, or with an item added when empty (strings only).</summary>
    static object? Shorter(IList list, Type type)
    {
        var item = type.GetGenericArguments()[0];
        if (list.Count == 0) return item == typeof(string) ? new List<string> { "x" } : null;
        var copy = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(item))!;
        foreach (var x in list.Cast<object>().Skip(1)) copy.Add(x);
        return copy;
    }

    [Fact]
    public void Scenario_device_written_as_the_device_it_defaults_to_changes_no_key()
    {
        var implicitly = PipelineGraph.Plan(Load(), PuzzleStages.All());
        var explicitly = PipelineGraph.Plan(Load(Yaml + "\nscenario: { device: cpu }"), PuzzleStages.All());
        // Export's model card and Pack quote the spec as written; every job before them computes the same either way
        Assert.All(implicitly.JobsFor("Report"), j => Assert.Equal(j.Key, explicitly.Find(j.Stage.Name, j.Id).Key));
        // a cost device of its own is another scenario
        var cuda = PipelineGraph.Plan(Load(Yaml + "\nscenario: { device: cuda }"), PuzzleStages.All());
        Assert.NotEqual(implicitly.Find("Search", "b8").Key, cuda.Find("Search", "b8").Key);
    }

    /// <summary>An unset export.dtype ships the dtype the pipeline computes in, which the search's memory constraints
    /// and the measured costs price: float32 on a CPU (keyed as when float32 was every spec's default), bfloat16 on CUDA.
    /// A CUDA child exported in float32 by default was twice the size a memory_bytes constraint allowed.</summary>
    [Fact]
    public void An_unset_export_dtype_is_keyed_and_shipped_as_the_compute_dtype()
    {
        static Engine.Export.ExportDType? Shipped(string yaml) =>
            PipelineGraph.Plan(Load(yaml), PuzzleStages.All()).Find("Export", "child1").ConfigAs<ExportStage.ExportJob>()!.Export.Dtype;
        var unset = PipelineGraph.Plan(Load(), PuzzleStages.All()).Find("Export", "child1");
        var written = PipelineGraph.Plan(Load(Yaml.Replace("format: nemotron-nas", "format: nemotron-nas, dtype: float32")), PuzzleStages.All()).Find("Export", "child1");
        Assert.Equal(written.Key, unset.Key);
        Assert.Equal(Engine.Export.ExportDType.Float32, Shipped(Yaml));
        Assert.Equal(Engine.Export.ExportDType.Bfloat16, Shipped(Yaml + "\ndevice: cuda"));
        Assert.Equal(Engine.Export.ExportDType.Float32, Shipped(Yaml + "\ndevice: cuda\ndtype: float32"));
        Assert.Equal(Engine.Export.ExportDType.Bfloat16, Shipped(Yaml + "\ndtype: bfloat16"));
        Assert.Equal(Engine.Export.ExportDType.Float16, Shipped(Yaml.Replace("format: nemotron-nas", "format: nemotron-nas, dtype: float16") + "\ndevice: cuda"));
    }

    /// <summary>A baseline added to or dropped from evaluation.baselines is healed or not, and nothing else: the search
    /// chooses every kind of baseline, so the children keep their search and their GKD (hours at real sizes). The random
    /// baseline's seed is the search's.</summary>
    [Fact]
    public void Another_list_of_baselines_searches_and_heals_no_child_again()
    {
        var before = PipelineGraph.Plan(Load(Yaml + "\nevaluation: { baselines: [uniform] }"), PuzzleStages.All());
        var after = PipelineGraph.Plan(Load(Yaml + "\nevaluation: { baselines: [uniform, shortgpt, random] }"), PuzzleStages.All());

        Assert.Equal(before.Find("Search", "b8").Key, after.Find("Search", "b8").Key);
        Assert.Equal(before.Find("Heal", "child1").Key, after.Find("Heal", "child1").Key);
        Assert.Equal(before.Find("Heal", "uniform").Key, after.Find("Heal", "uniform").Key);
        Assert.Equal(["child1", "uniform", "shortgpt", "random"], after.Jobs["Heal"].Select(j => j.Id));
        var reseeded = PipelineGraph.Plan(Load(Yaml + "\nevaluation: { baselines: [uniform], seed: 7 }"), PuzzleStages.All());
        Assert.NotEqual(before.Find("Search", "b8").Key, reseeded.Find("Search", "b8").Key);
    }

    /// <summary>Settings that change nothing where they are written leave every key as it was: diversity with one
    /// solution, the closed loop's margin without the loop, and how timing runs where the costs are a roofline (only the
    /// Speed job times there). Each would otherwise search again and train every child again.</summary>
    [Fact]
    public void Settings_that_act_on_nothing_change_no_key_and_act_where_they_do()
    {
        PipelineGraph Plan(string extra) => PipelineGraph.Plan(Load(Yaml + "\nconstraints: { throughput_vs_parent: 1.5 }\n" + extra), PuzzleStages.All());
        string Key(PipelineGraph g, string stage) => g.JobsFor(null).First(j => j.Stage.Name == stage).Key;

        var plain = Plan("");
        Assert.Equal(Key(plain, "Search"), Key(Plan("search: { diversity: 0.5, diversity_unit: subblock }"), "Search"));
        Assert.Equal(Key(Plan("search: { verify_rounds: 0 }"), "Search"), Key(Plan("search: { verify_rounds: 0, verify_margin: 0.2 }"), "Search"));
        Assert.NotEqual(Key(Plan("search: { solutions: 2 }"), "Search"), Key(Plan("search: { solutions: 2, diversity: 0.5 }"), "Search"));
        Assert.NotEqual(Key(plain, "Search"), Key(Plan("search: { verify_margin: 0.2 }"), "Search"));
        // an unset margin is the one for how costs are timed: eager's 0.05, CUDA graphs' 0.02
        Assert.Equal(Key(plain, "Search"), Key(Plan("search: { verify_margin: 0.05 }"), "Search"));
        var graphs = Plan("scenario: { runtime: cuda_graphs }");
        Assert.Equal(Key(graphs, "Search"), Key(Plan("scenario: { runtime: cuda_graphs }\nsearch: { verify_margin: 0.02 }"), "Search"));
        Assert.NotEqual(Key(graphs, "Search"), Key(Plan("scenario: { runtime: cuda_graphs }\nsearch: { verify_margin: 0.05 }"), "Search"));
        Assert.Equal(0.02, graphs.JobsFor(null).First(j => j.Stage.Name == "Search").ConfigAs<SearchStage.SearchJob>().Search.VerifyMargin);

        var roofline = Plan("scenario: { target: h200 }");
        var retimed = Plan("scenario: { target: h200, repeats: 9, warmup: 4 }\nsearch: { verify_rounds: 1, verify_margin: 0.2 }");
        foreach (var stage in new[] { "Measure", "Search", "Sweep", "Heal" })
            Assert.Equal(Key(roofline, stage), Key(retimed, stage));
        Assert.NotEqual(Key(roofline, "Speed"), Key(retimed, "Speed")); // timed here, with the repeats asked for
        var measured = Plan("scenario: { repeats: 9 }");
        Assert.NotEqual(Key(plain, "Measure"), Key(measured, "Measure"));
        Assert.NotEqual(Key(plain, "Search"), Key(measured, "Search"));
    }
}
