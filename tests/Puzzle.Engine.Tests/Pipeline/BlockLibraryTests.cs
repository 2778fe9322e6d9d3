using Puzzle.Engine.Data;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The block library on a small pretrained parent, through the real stages.</summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class BlockLibraryTests
{
    const string Spec = TestRepo.MicroSpec;

    static async Task<PipelineSession> Build(TestRepo repo)
    {
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync("Distill", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));
        // one process trained every variant: the record names it for the others, which have no time of their own
        var distill = summary.Jobs.Where(j => j.Stage == "Distill" && j.Outcome == JobOutcome.Ran).ToList();
        var lead = Assert.Single(distill, j => j.Reason is null);
        Assert.True(lead.Seconds > 0);
        Assert.All(distill.Where(j => j != lead), j => Assert.Equal(($"built with {lead.Job}", 0.0), (j.Reason, j.Seconds)));
        return session;
    }

    [Fact]
    public async Task Every_trainable_variant_ends_closer_to_its_parent_block_than_its_initialisation()
    {
        using var repo = new TestRepo(Spec.Replace("tokens: 3000, batch: 4", "tokens: 20000, batch: 8").Replace("tokens: 2000", "tokens: 8000"));
        var session = await Build(repo);
        var jobs = session.Graph.Jobs["Distill"];
        // 2 layers × (attention kv1, linear; FFN ratio 0.5, 0.25, linear); no-ops and the parent's own blocks need no training
        Assert.Equal(10, jobs.Count);
        Assert.Contains(jobs, j => j.Id == "layer1.attention.kv1");
        Assert.Contains(jobs, j => j.Id == "layer0.ffn.ratio0.25");
        foreach (var job in jobs)
        {
            var m = session.Store.Find(job.Key)!.Manifest.Metrics;
            var init = m["init_nmse"]!.GetValue<double>();
            var final = m["final_nmse"]!.GetValue<double>();
            Assert.True(final < init, $"{job.Id}: final nmse {final:F4} is not below init {init:F4}");
            Assert.InRange(init, 0, 1.5);
            if (job.Id.EndsWith(".linear"))
            {
                var byInit = m["initialiser_nmse"]!.AsObject();
                Assert.True(byInit.ContainsKey("paper") && byInit.ContainsKey("least_squares"), job.Id);
            }
            Assert.True(File.Exists(Path.Combine(session.Store.Find(job.Key)!.Directory, DistillStage.WeightsFile)));
            // where the group's time went, in every job's manifest
            var phases = m["phase_seconds"]!.AsObject();
            Assert.Equal(["load", "initialise and train", "save"], phases.Select(p => p.Key));
            Assert.All(phases, p => Assert.True(p.Value!.GetValue<double>() >= 0));
            // the memory estimate the layers per process were planned by, on this machine, beside its measured peak
            var group = job.Stage.Companions(job, jobs, session.Spec).Append(job).Select(j => j.ConfigAs<DistillStage.DistillJob>().Variant);
            Assert.Equal(BldMemory.Estimate(ParentStage.PlannedConfig(session.Spec), group, 4, DeviceKind.Cpu), m["estimated_rss_bytes"]!.GetValue<long>());
            Assert.Null(m["estimated_gpu_bytes"]);
        }
    }

    /// <summary>The parent's stream up to layer 2 and its data splits, from a micro pipeline's Parent and Data entries.</summary>
    static (ParentStream Parent, TokenDataset Train, TokenDataset Heldout) Open(PipelineSession session, int layers,
        Engine.Runtime.ComputeDevice? device = null)
    {
        var modelDir = ParentStage.ModelDirectory(session.Store.Find(session.Graph.Find("Parent", "parent").Key)!.Directory);
        var data = Path.Combine(session.Store.Find(session.Graph.Jobs["Data"].Single().Key)!.Directory, DataStage.Folder);
        var config = Engine.Checkpoints.HfConfig.Read(modelDir);
        return (ParentStream.Open(modelDir, config, layers, device ?? Engine.Runtime.ComputeDevice.Cpu),
            TokenDataset.Open(data, DataSplit.Train), TokenDataset.Open(data, DataSplit.Selection));
    }

    static async Task<PipelineSession> UpToParent(TestRepo repo)
    {
        var session = PipelineSession.Open(repo.SpecPath);
        Assert.True((await session.RunAsync("Parent", session.InProcessLauncher(), TextWriter.Null)).Succeeded);
        return session;
    }

    [Fact]
    public async Task The_parents_stream_is_each_layers_input_and_its_two_contributions()
    {
        using var repo = new TestRepo(Spec);
        var session = await UpToParent(repo);
        var (stream, train, heldout) = Open(session, 2);
        using var _ = stream;
        using var __ = train;
        using var ___ = heldout;
        var modelDir = ParentStage.ModelDirectory(session.Store.Find(session.Graph.Find("Parent", "parent").Key)!.Directory);
        using var model = ParentModel.Load(modelDir);
        using var noGrad = TorchSharp.torch.no_grad();
        var tokens = train.GetBatch([3, 1, 4]);
        var outputs = new List<TorchSharp.torch.Tensor>();
        model.Forward(tokens[.., ..^1], null, outputs); // each layer's output, computed the ordinary way
        var layers = stream.Run(tokens, 2);
        Assert.True(layers[0].X.allclose(model.Embed(tokens[.., ..^1])));
        for (var l = 0; l < 2; l++)
        {
            if (l > 0) Assert.True(layers[l].X.allclose(outputs[l - 1], 1e-5, 1e-6), $"layer {l}: input");
            Assert.True((layers[l].X + layers[l].Attention + layers[l].Ffn).allclose(outputs[l], 1e-5, 1e-6), $"layer {l}: output");
            Assert.False(layers[l].Attention.allclose(TorchSharp.torch.zeros_like(layers[l].Attention)), $"layer {l}: attention");
        }
        Assert.False(layers[1].X.allclose(layers[0].X, 1e-3, 1e-3));
    }

    [Fact]
    public async Task A_variant_trains_the_same_alone_as_beside_others_and_identical_variants_start_at_zero_loss()
    {
        using var repo = new TestRepo(Spec);
        var session = await UpToParent(repo);
        var (stream, train, heldout) = Open(session, 2);
        using var _ = stream;
        using var __ = train;
        using var ___ = heldout;
        var config = stream.Config;
        var options = session.Spec.Bld.Options("layer1", stream.Config.HiddenSize);
        options = options with { Train = options.Train with { Tokens = 256 } };
        var own = config.Blocks[1];
        var catalog = DistillStage.Catalog(config, session.Spec).ToDictionary(v => v.Id);
        var sameAttention = new BldJob(new BlockVariant(1, Subblock.Attention, own.Attention, null, "kv2", IsParent: false), options);
        var sameFfn = new BldJob(new BlockVariant(1, Subblock.Ffn, null, own.Ffn, "ratio1", IsParent: false), options);
        var narrow = new BldJob(catalog["layer1.ffn.ratio0.5"], options);
        var kv1 = new BldJob(catalog["layer0.attention.kv1"], options with { Train = options.Train with { Tokens = 128 } });

        var together = BlockDistiller.Distill(stream, [sameAttention, sameFfn, narrow, kv1], train, heldout, TextWriter.Null, Engine.Runtime.ComputeDevice.Cpu);
        foreach (var r in together.Take(2))
        {
            Assert.True(r.InitialNmse < 1e-5, $"init {r.InitialNmse}");
            Assert.True(r.FinalNmse <= r.InitialNmse); // the best held-out weights are published: here the parent's own
        }
        // each variant keeps its own budget: 256 and 128 tokens are 2 and 1 steps of 8 sequences of 16 tokens
        Assert.Equal(2, together[2].Curve[^1].Step);
        Assert.Equal(1, together[3].Curve[^1].Step);
        var alone = BlockDistiller.Distill(stream, [narrow], train, heldout, TextWriter.Null, Engine.Runtime.ComputeDevice.Cpu).Single();
        Assert.Equal(alone.Weights.Keys.Order(), together[2].Weights.Keys.Order());
        foreach (var (name, w) in alone.Weights) Assert.True(w.allclose(together[2].Weights[name], 0, 0), $"{name} differs when trained beside others");
        Assert.Equal(alone.Heldout.Select(h => h.Loss), together[2].Heldout.Select(h => h.Loss));
    }

    /// <summary>Every variant of a process fails with one whose loss diverges: the error, in every one's log, names it.</summary>
    [Fact]
    public async Task A_variant_whose_loss_diverges_is_named_in_the_error_its_process_fails_with()
    {
        using var repo = new TestRepo(Spec);
        var session = await UpToParent(repo);
        var (stream, train, heldout) = Open(session, 2);
        using var _ = stream;
        using var __ = train;
        using var ___ = heldout;
        var options = session.Spec.Bld.Options("layer1", stream.Config.HiddenSize);
        var catalog = DistillStage.Catalog(stream.Config, session.Spec).ToDictionary(v => v.Id);
        BldJob[] jobs =
        [
            new(catalog["layer0.attention.kv1"], options),
            new(catalog["layer1.ffn.ratio0.5"], options with { Train = options.Train with { LearningRate = 1e30 } }),
        ];

        var e = Assert.Throws<InvalidOperationException>(() => BlockDistiller.Distill(stream, jobs, train, heldout, TextWriter.Null, Engine.Runtime.ComputeDevice.Cpu));
        Assert.Matches(@"^layer1\.ffn\.ratio0\.5: the loss became (NaN|-?Infinity) at step [0-9]+: training diverged", e.Message);
    }

    [Fact]
    public async Task A_training_split_smaller_than_one_batch_trains_the_budget_in_batches_of_all_its_sequences()
    {
        using var repo = new TestRepo(Spec);
        var session = await UpToParent(repo);
        var (stream, train, heldout) = Open(session, 2);
        using var _ = stream;
        using var __ = train;
        using var ___ = heldout;
        var options = session.Spec.Bld.Options("layer1.ffn.ratio0.5", stream.Config.HiddenSize);
        var rows = (int)train.Count;
        // a batch four times the split, and a budget of three batches of the split's sequences
        options = options with { Batch = 4 * rows, Train = options.Train with { Tokens = 3L * rows * train.SeqLen } };
        var narrow = DistillStage.Catalog(stream.Config, session.Spec).Single(v => v.Id == "layer1.ffn.ratio0.5");
        var log = new StringWriter();

        var result = BlockDistiller.Distill(stream, [new BldJob(narrow, options)], train, heldout, log, Engine.Runtime.ComputeDevice.Cpu).Single();

        Assert.Equal(3, result.Curve[^1].Step); // one step of a batch of 4 x the split's sequences, had they been there
        Assert.Contains($"fewer than bld.batch {4 * rows}: batches of {rows}", log.ToString());
    }

    [Fact]
    public async Task A_linear_variant_started_by_least_squares_is_the_least_squares_fit_over_every_training_token()
    {
        using var repo = new TestRepo(Spec);
        var session = await UpToParent(repo);
        var (stream, train, heldout) = Open(session, 2);
        using var _ = stream;
        using var __ = train;
        using var ___ = heldout;
        var options = session.Spec.Bld.Options("layer1.ffn.linear", stream.Config.HiddenSize);
        options = options with { Train = options.Train with { Tokens = 8 * 16 * 6 } }; // 6 steps of 8 sequences of 16 tokens
        var linear = DistillStage.Catalog(stream.Config, session.Spec).Single(v => v.Id == "layer1.ffn.linear");
        var result = BlockDistiller.Distill(stream, [new BldJob(linear, options)], train, heldout, TextWriter.Null,
            Engine.Runtime.ComputeDevice.Cpu).Single();

        Assert.Equal(BldResult.LeastSquaresFit, result.Training);
        Assert.All(result.Curve, p => Assert.Equal(0, p.LearningRate));
        Assert.Equal(6, result.Heldout[^1].Step);

        // after the last step the weight is the ridge least-squares solution over exactly the six training batches:
        // computed here from the parent's stream on its own, its held-out nMSE is the one the run recorded last
        using var scope = TorchSharp.torch.NewDisposeScope();
        var parent = stream.Layers[1];
        var rows = train.InfiniteBatches(options.Batch, (ulong)options.Seed).Take(6).Select(b => stream.Run(train.GetBatch(b), 2)[1]).ToList();
        var inputs = TorchSharp.torch.cat(rows.Select(r => parent.post_attention_layernorm!.forward(Puzzle.Engine.Runtime.Scalars.Add(r.X, r.Attention))).ToArray());
        var targets = TorchSharp.torch.cat(rows.Select(r => r.Ffn).ToArray());
        using var ffn = new LinearFfn(stream.Config.HiddenSize);
        using (TorchSharp.torch.no_grad()) ffn.linear_mlp.weight!.copy_(Initialisers.LeastSquares(inputs, targets));
        using var block = ChildBlock.Assemble(stream.Config, linear.AsBlock, parent, null, ffn);
        var (cos, sin) = stream.Rotary(train.SeqLen);
        var check = heldout.Leading(BlockDistiller.CheckSequences, options.Batch).Select(b => stream.Run(heldout.GetBatch(b), 2)[1]).ToList();
        var expected = new SubblockIO(linear, cos, sin).Nmse(block, check);
        Assert.True(Math.Abs(expected - result.LastNmse) < 1e-6 * expected, $"last held-out nMSE {result.LastNmse:G9}, the fit's {expected:G9}");
        // and the published weights are the best of those measured, the calibration fit included
        Assert.Equal(result.Heldout.Min(h => h.Loss), result.FinalNmse);
    }

    [Fact]
    public async Task The_stores_size_does_not_grow_with_the_distillation_budget()
    {
        long StoreBytes(TestRepo repo) => new DirectoryInfo(Path.Combine(repo.Root, ".puzzle", "cache"))
            .EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        using var small = new TestRepo(Spec.Replace("tokens: 2000", "tokens: 2048"));
        using var large = new TestRepo(Spec.Replace("tokens: 2000", "tokens: 8192"));
        await Build(small);
        await Build(large);
        var (a, b) = (StoreBytes(small), StoreBytes(large));
        Assert.True(Math.Abs(b - a) < 0.05 * a, $"store after Distill: {a:N0} bytes at 2,048 BLD tokens, {b:N0} at 8,192");
    }

    [Fact]
    public async Task Changing_one_variants_learning_rate_retrains_only_it()
    {
        using var repo = new TestRepo(Spec);
        await Build(repo);
        repo.Edit("tokens: 2000", "tokens: 2000\n  variants:\n    - { match: layer0.ffn.linear, lr: 0.003 }");
        var session = PipelineSession.Open(repo.SpecPath);
        var stale = session.Status("Distill").Where(s => s.State != JobState.Cached).ToList();
        Assert.Equal(["Distill/layer0.ffn.linear"], stale.Select(s => $"{s.Stage}/{s.Job}"));
        Assert.Contains("config changed: bld.lr", stale[0].Reason);
        var rerun = await session.RunAsync("Distill", session.InProcessLauncher(), TextWriter.Null);
        Assert.Equal(["layer0.ffn.linear"], rerun.Where(JobOutcome.Ran).Select(j => j.Job));
    }

    [Fact]
    public void The_catalog_rounds_widths_and_names_variants_as_overrides_match_them()
    {
        var parent = ModelConfig.Llama(vocab: 100, hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 176);
        var space = new Engine.Pipeline.Spec.SearchSpaceSpec
        {
            Attention = new() { KvHeads = [1, 2] },
            Ffn = new() { Ratios = [0.5, 0.25, 0.1], RoundTo = 64 },
        };
        var ids = VariantCatalog.For(parent, space.Alternatives).Where(v => v.Layer == 0).ToDictionary(v => v.Id);
        Assert.True(ids["layer0.attention.kv2"].IsParent);
        Assert.True(ids["layer0.ffn.ratio1"].IsParent);
        Assert.Equal(1, ids["layer0.attention.kv1"].Attention!.KvHeads);
        Assert.Equal(64, ids["layer0.ffn.ratio0.5"].Ffn!.IntermediateSize);   // 88 → 64
        Assert.False(ids.ContainsKey("layer0.ffn.ratio0.25"));                  // 44 → 64 again: the same width once
        Assert.False(ids.ContainsKey("layer0.ffn.ratio0.1"));
        Assert.False(ids["layer0.ffn.no_op"].Trainable);
        Assert.True(ids["layer0.ffn.linear"].Trainable);
        Assert.True(BldSpec.Matches("*.ffn.linear", "layer3.ffn.linear"));
        Assert.False(BldSpec.Matches("layer3.attention.*", "layer3.ffn.linear"));
    }

    [Fact]
    public async Task Coupled_mode_trains_attention_and_ffn_together_for_every_pairing()
    {
        using var repo = new TestRepo(Spec
            .Replace("tokens: 3000, batch: 4", "tokens: 20000, batch: 8").Replace("tokens: 2000", "tokens: 8000")
            .Replace("attention: { kv_heads: [1] }", "attention: { linear: false }")
            .Replace("ffn: { ratios: [0.5, 0.25], round_to: 16 }", "ffn: { ratios: [0.5], round_to: 16, linear: false, no_op: false }")
            .Replace("bld:\n  lr: 0.001", "bld:\n  mode: coupled\n  lr: 0.001"));
        var session = await Build(repo);
        var jobs = session.Graph.Jobs["Distill"].Select(j => j.Id).Order().ToArray();
        // per layer: (parent kv2 | no_op) × (parent ratio1 | ratio0.5), less the parent's own block
        Assert.Equal(["layer0.block.kv2+ratio0.5", "layer0.block.no_op+ratio0.5", "layer0.block.no_op+ratio1",
                      "layer1.block.kv2+ratio0.5", "layer1.block.no_op+ratio0.5", "layer1.block.no_op+ratio1"], jobs);
        foreach (var job in session.Graph.Jobs["Distill"])
        {
            var m = session.Store.Find(job.Key)!.Manifest.Metrics;
            Assert.True(m["final_nmse"]!.GetValue<double>() < m["init_nmse"]!.GetValue<double>(), job.Id);
        }
        Assert.True(BldSpec.Matches("*.block.no_op+ratio0.5", "layer1.block.no_op+ratio0.5"));
        Assert.True(BldSpec.Matches("layer1.*.*", "layer1.block.no_op+ratio0.5"));
        Assert.True(BldSpec.Matches("*.ffn.*", "layer0.ffn.ratio0.5"));
    }
}
