using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Heal;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Search;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Heal: assembles each chosen architecture (every child the search found, and each baseline) from the library's
/// trained variants and trains it end to end against the parent by global knowledge distillation, all on the same
/// token budget. Checkpoints every gkd.checkpoint_every steps; a killed job resumes where it stopped.
/// </summary>
public sealed class HealStage : Stage<HealStage.HealJob>
{
    /// <summary>One model to heal (childK or a baseline), the search space its chosen variant ids come from, and GKD's
    /// settings.</summary>
    public sealed record HealJob(string Model, [property: SpecPath("search_space")] SearchSpaceSpec SearchSpace, [property: SpecPath("gkd")] TrainingSpec Training, [property: SpecPath("gkd.loss")] GkdLoss Loss,
        [property: NotInKey("how often resumable state is saved changes no weight")] int CheckpointEvery,
        [property: SpecPath("gkd.checkpoint_activations")] bool CheckpointActivations, string? Device);

    /// <summary>heal.json: what a Heal job made of one model (or why it made nothing).</summary>
    public sealed record HealReport(string Name, string Kind)
    {
        public string? Skipped { get; init; }
        /// <summary>The architecture as the search chose it (architectures.json's entry).</summary>
        public ChosenArchitecture? Architecture { get; init; }
        public long? Parameters { get; init; }
        public long? ParentParameters { get; init; }
        public GkdRun? Gkd { get; init; }

        public static HealReport Read(string jobDirectory) => RecordFile.Read<HealReport>(Path.Combine(jobDirectory, HealFile));
        public void Write(string jobDirectory) => RecordFile.Write(Path.Combine(jobDirectory, HealFile), this);
    }

    /// <summary>The GKD run: tokens and speed, held-out checks before and after, and the held-out guard's curve (the
    /// published weights are those of <see cref="BestStep"/>).</summary>
    public sealed record GkdRun(long Tokens, double Seconds, double TokensPerS, long? ResumedFromStep, long CheckSequences,
        HeldoutCheck Before, HeldoutCheck After, long BestStep, double? LastKl, IReadOnlyList<HeldoutPoint> HeldoutCurve);

    /// <summary>A model against the parent on the check sequences.</summary>
    public sealed record HeldoutCheck(double? Kl, double? Agreement, double Loss, double Top1)
    {
        public static HeldoutCheck Of(LmMetrics m) => new(m.Kl, m.Agreement, m.Loss, m.Top1);
    }

    public override string Name => "Heal";
    public override int Version => 4; // 4: the head and its losses a slice of positions at a time; 3: typed job config; 2: the best held-out weights are published
    public override IReadOnlyList<string> Upstream => ["Data", "Parent", "Distill", "Search"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Device;
    public override string Description => "assemble each child and baseline, heal it by global distillation (GKD)";
    public const string ModelFolder = "model", HealFile = "heal.json", CurveFile = "curve.json";
    /// <summary>Held-out sequences the Heal job checks KL on before and after GKD.</summary>
    const int CheckSequences = 16;

    /// <summary>The job ids: child1..childK (K = search.solutions), then the spec's baselines.</summary>
    public static IReadOnlyList<string> ModelIds(PipelineSpec spec) =>
        [.. Enumerable.Range(1, spec.Search.Solutions).Select(r => $"child{r}"), .. spec.Evaluation.Baselines.Select(SearchStage.BaselineName)];

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var inputs = new Dictionary<string, JobPlan>
        {
            ["parent"] = planned["Parent"].Single(),
            ["data"] = planned["Data"].Single(),
            ["search"] = planned["Search"].Single(j => j.Id == $"b{spec.Scenario.Batch}"),
        };
        // every variant: which ones a model uses is known only after the search
        foreach (var d in planned["Distill"]) inputs["variant:" + d.Id] = d;
        var gkd = spec.Gkd;
        return ModelIds(spec).Select(id => Job(id,
            new HealJob(id, spec.SearchSpace, gkd.Training, gkd.Loss, gkd.CheckpointEvery, gkd.CheckpointActivations, ComputeDevice.KeyName(spec.Device, spec.Dtype)),
            inputs, gkd.Training.Seed)).ToList();
    }

    /// <summary>The architecture a Heal job trains (from the Search job's architectures.json), or why there is none.</summary>
    public static (ChosenArchitecture? Architecture, string Kind, string? Skipped) Chosen(string searchDirectory, string id)
    {
        var result = SearchResult.Read(searchDirectory);
        if (id.StartsWith("child", StringComparison.Ordinal))
        {
            var rank = int.Parse(id["child".Length..]);
            return rank <= result.Architectures.Count ? (result.Architectures[rank - 1], "child", null)
                : (null, "child", $"the search found {result.Architectures.Count} architecture(s), not {rank}");
        }
        var baseline = result.Baselines.GetValueOrDefault(id) ?? throw new InvalidDataException($"{searchDirectory}: no baseline '{id}' in {SearchStage.ArchitecturesFile}");
        return baseline.Skipped is { } why ? (null, "baseline", why) : (baseline, "baseline", null);
    }

    protected override void Run(HealJob job, JobContext context)
    {
        var id = job.Model;
        var (architecture, kind, skipped) = Chosen(context.Input("search"), id);
        if (architecture is null)
        {
            new HealReport(id, kind) { Skipped = skipped }.Write(context.OutputDirectory);
            context.Metrics["skipped"] = skipped;
            context.Log.WriteLine($"{id}: skipped ({skipped})");
            return;
        }
        var layers = architecture.Layers;
        var parentDir = ParentStage.ModelDirectory(context.Input("parent"));
        var device = context.Device;
        using var parent = ParentModel.Load(parentDir, device);
        var config = VariantCatalog.ToModel(parent.Config, job.SearchSpace.Alternatives, layers);
        using var child = device.Place(ChildAssembler.Assemble(parent, config, layers, variant =>
            context.Job.Inputs.ContainsKey("variant:" + variant) ? Path.Combine(context.Input("variant:" + variant), DistillStage.WeightsFile) : null));
        context.Log.WriteLine($"{id}: {child.ParameterCount:N0} parameters ({(double)child.ParameterCount / parent.ParameterCount:P0} of the parent), " +
                              $"predicted speedup {architecture.Predicted!.Speedup:0.00}x");

        var dataset = Path.Combine(context.Input("data"), DataStage.Folder);
        using var train = TokenDataset.Open(dataset, DataSplit.Train);
        using var heldout = TokenDataset.Open(dataset, DataSplit.Selection); // its check chooses the weights a model publishes
        context.PhaseDone("load and assemble");
        var before = Check(child, parent, heldout);
        context.PhaseDone("check before");

        var gkd = job.Training;
        var loss = new GkdObjective(parent, child, job.Loss.Cosine, job.Loss.Kl, job.Loss.Lm, new GkdMemory(CheckpointBlocks: job.CheckpointActivations));
        child.train();
        var clock = Stopwatch.StartNew();
        var checkpoints = new TrainCheckpoints(context.ResumeDirectory, job.CheckpointEvery);
        var resumedFrom = checkpoints.LatestStep;
        // held-out KL at step 0 and every few steps: the child publishes the best weights seen, never worse than assembled
        using var guard = new HeldoutGuard(() =>
        {
            child.eval();
            var kl = Check(child, parent, heldout).Kl!.Value;
            child.train();
            return kl;
        });
        var options = gkd.OptionsAt(parent.Config.HiddenSize);
        if (options.WarmupWarning((long)gkd.Batch * train.SeqLen, "gkd") is { } warmup) context.Log.WriteLine($"{id}: {warmup}");
        var curve = Trainer.Run(child.named_parameters().Select(p => (p.name, p.parameter)),
            train.InfiniteBatches(gkd.Batch, (ulong)context.Job.Seed).Select(train.GetBatch).Select(device.Put), b => loss.Step(b).Total,
            (long)gkd.Batch * train.SeqLen, options, new ProgressLine($"gkd {id}", gkd.Tokens, context.Log), checkpoints, guard,
            lossBackpropagates: true);
        var seconds = clock.Elapsed.TotalSeconds;
        context.PhaseDone("train (with held-out checks)");
        child.eval();
        var after = Check(child, parent, heldout);

        var extra = new Dictionary<string, string>();
        var tokenizerConfig = Path.Combine(parentDir, "tokenizer_config.json");
        if (File.Exists(tokenizerConfig)) extra["tokenizer_config.json"] = File.ReadAllText(tokenizerConfig);
        var tokenizer = Path.Combine(parentDir, Checkpoint.TokenizerFileName);
        // in the dtype it was trained in (bf16 on a GPU: float32 would double the bytes of every model Heal writes, and
        // of what Evaluate, Speed and Export read, for nothing)
        Checkpoint.Save(context.Output(ModelFolder), config, child.state_dict(), CheckpointFormat.NemotronNas, TensorDTypes.Of(device.DType),
            tokenizerPath: File.Exists(tokenizer) ? tokenizer : null, extraFiles: extra);
        context.PhaseDone("check after and save");

        var trainedTokens = curve[^1].Tokens - (resumedFrom ?? 0) * gkd.Batch * train.SeqLen;
        new HealReport(id, kind)
        {
            Architecture = architecture, Parameters = child.ParameterCount, ParentParameters = parent.ParameterCount,
            Gkd = new GkdRun(curve[^1].Tokens, seconds, trainedTokens / Math.Max(1e-9, seconds), resumedFrom, before.Tokens / Math.Max(1, heldout.SeqLen),
                HeldoutCheck.Of(before), HeldoutCheck.Of(after), guard.BestStep, guard.Last, guard.Points.ToList()),
        }.Write(context.OutputDirectory);
        File.WriteAllText(context.Output(CurveFile), JsonSerializer.Serialize(curve, PuzzleJson.Options));
        context.Metrics["kl_before"] = before.Kl;
        context.Metrics["kl_after"] = after.Kl;
        context.Metrics["best_step"] = guard.BestStep;
        context.Metrics["last_kl"] = guard.Last;
        if (guard.BestStep == 0)
            context.Log.WriteLine($"warning: {id}: global distillation did not lower held-out KL ({guard.Initial:F4} at the start, {guard.Last:F4} at the end): " +
                                  "the assembled weights are published; try a lower gkd.lr or more gkd.tokens");
        context.Metrics["tokens_per_s"] = trainedTokens / Math.Max(1e-9, seconds);
        context.Metrics["loss_curve"] = JsonSerializer.SerializeToNode(curve, PuzzleJson.Options);
        context.Log.WriteLine($"{id}: KL(parent ‖ child) on {CheckSequences} held-out sequences {before.Kl:F4} → {after.Kl:F4}, " +
                              $"agreement {before.Agreement:P1} → {after.Agreement:P1}");
    }

    static LmMetrics Check(CausalLM child, CausalLM parent, TokenDataset heldout)
    {
        return Evaluator.Evaluate(child, heldout.Leading(CheckSequences, 8).Select(heldout.GetBatch), parent);
    }

}
