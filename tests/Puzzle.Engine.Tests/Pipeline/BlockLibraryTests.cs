using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The block library on a small pretrained parent, through the real stages.</summary>
public class BlockLibraryTests
{
    const string Spec = TestRepo.MicroSpec;

    static async Task<PipelineSession> Build(TestRepo repo)
    {
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync("Distill", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));
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
        }
    }

    [Fact]
    public async Task A_variant_identical_to_the_parent_block_has_near_zero_loss()
    {
        using var repo = new TestRepo(Spec);
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync("Calibrate", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded);
        var modelDir = ParentStage.ModelDirectory(session.Store.Find(session.Graph.Find("Parent", "parent").Key)!.Directory);
        var calibrate = session.Store.Find(session.Graph.Find("Calibrate", "activations").Key)!.Directory;
        var config = Engine.Checkpoints.HfConfig.Read(modelDir);
        using var parent = DistillStage.LoadLayer(modelDir, config, 1);
        var train = ActivationSet.Open(Path.Combine(calibrate, CalibrateStage.TrainSet));
        var check = ActivationSet.Open(Path.Combine(calibrate, CalibrateStage.CheckSet));
        var options = BldOptions.For(session.Spec.Bld, "layer1") with { Tokens = 256 };
        var own = config.Blocks[1];
        var sameAttention = new BlockVariant(1, Subblock.Attention, own.Attention, null, "kv2", IsParent: false);
        var sameFfn = new BlockVariant(1, Subblock.Ffn, null, own.Ffn, "ratio1", IsParent: false);
        foreach (var variant in new[] { sameAttention, sameFfn })
        {
            var result = BlockDistiller.Distill(config, parent, variant, train, check, options, TextWriter.Null);
            Assert.True(result.InitialNmse < 1e-5, $"{variant.Id}: init {result.InitialNmse}");
            // Adam's first steps move every weight by about the learning rate whatever the gradient: near zero, not zero
            Assert.True(result.FinalNmse < 5e-2, $"{variant.Id}: final {result.FinalNmse}");
        }
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
        Assert.Contains("config changed: lr", stale[0].Reason);
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
        var ids = VariantCatalog.For(parent, space).Where(v => v.Layer == 0).ToDictionary(v => v.Id);
        Assert.True(ids["layer0.attention.kv2"].IsParent);
        Assert.True(ids["layer0.ffn.ratio1"].IsParent);
        Assert.Equal(1, ids["layer0.attention.kv1"].Attention!.KvHeads);
        Assert.Equal(64, ids["layer0.ffn.ratio0.5"].Ffn!.IntermediateSize);   // 88 → 64
        Assert.False(ids.ContainsKey("layer0.ffn.ratio0.25"));                  // 44 → 64 again: the same width once
        Assert.False(ids.ContainsKey("layer0.ffn.ratio0.1"));
        Assert.False(ids["layer0.ffn.no_op"].Trainable);
        Assert.True(ids["layer0.ffn.linear"].Trainable);
        Assert.True(BldOptions.Matches("*.ffn.linear", "layer3.ffn.linear"));
        Assert.False(BldOptions.Matches("layer3.attention.*", "layer3.ffn.linear"));
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
        Assert.True(BldOptions.Matches("*.block.no_op+ratio0.5", "layer1.block.no_op+ratio0.5"));
        Assert.True(BldOptions.Matches("layer1.*.*", "layer1.block.no_op+ratio0.5"));
        Assert.True(BldOptions.Matches("*.ffn.*", "layer0.ffn.ratio0.5"));
    }
}
