using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Heal;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Search;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Heal: assembles each chosen architecture (every child the search found, and each baseline) from the library's
/// trained variants and trains it end to end against the parent by global knowledge distillation, all on the same
/// token budget. Checkpoints every gkd.checkpoint_minutes (or gkd.checkpoint_every steps); a killed job resumes where it
/// stopped.
/// </summary>
public sealed class HealStage : Stage<HealStage.HealJob>
{
    /// <summary>One model to heal (childK or a baseline), the search space its chosen variant ids come from, and GKD's
    /// settings.</summary>
    public sealed record HealJob(string Model, [property: SpecPath("search_space")] SearchSpaceSpec SearchSpace, [property: SpecPath("gkd")] TrainingSpec Training, [property: SpecPath("gkd.loss")] GkdLoss Loss,
        [property: NotInKey("how often resumable state is saved changes no weight")] int? CheckpointEvery,
        [property: NotInKey("how often resumable state is saved changes no weight")] double CheckpointMinutes,
        [property: SpecPath("gkd.checkpoint_activations")] bool CheckpointActivations, [property: SpecPath("gkd.train_embeddings")] bool TrainEmbeddings,
        string? Device);

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
    public override int Version => 5; // 5: gkd.train_embeddings; 4: the head and its losses a slice of positions at a time; 3: typed job config; 2: the best held-out weights are published
    public override IReadOnlyList<string> Upstream => ["Data", "Parent", "Distill", "Search"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Device;
    public override MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) => MemoryFloor.Parent(spec, spec.Device);
    /// <summary>The group's models each counted at the parent's size (what <see cref="ModelsPerProcess"/> sizes groups by:
    /// which architectures the search chooses is not known yet).</summary>
    public override long? PlannedMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec)
    {
        var parent = ParentStage.PlannedConfig(spec);
        return HealGroups.Estimate(CostMeter.Parameters(parent), group.Count, ComputeDevice.ElementBytesOn(spec.Device, spec.Dtype), spec.Device,
            HealGroups.Frozen(parent, spec.Gkd.TrainEmbeddings));
    }
    public override string Description => "assemble each child and baseline, heal it by global distillation (GKD)";
    public const string ModelFolder = "model", HealFile = "heal.json", CurveFile = "curve.json";

    /// <summary>The folder of the job's resume folder (removed once it publishes) where a CPU model's held-out guard maps
    /// its best weights.</summary>
    const string BestWeightsFolder = "best-weights";
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
            new HealJob(id, spec.SearchSpace, gkd.Training, gkd.Loss, gkd.CheckpointEvery, gkd.CheckpointMinutes, gkd.CheckpointActivations, gkd.TrainEmbeddings,
                ComputeDevice.KeyName(spec.Device, spec.Dtype)),
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

    /// <summary>The other models of <paramref name="job"/>'s group of <see cref="ModelsPerProcess"/>, in the order of
    /// <see cref="ModelIds"/>.</summary>
    public override IEnumerable<JobPlan> Companions(JobPlan job, IReadOnlyList<JobPlan> stageJobs, PipelineSpec spec) =>
        ModelsPerProcess(spec) <= 1 ? [] : stageJobs.Where(j => j != job && Group(spec, j.ConfigAs<HealJob>().Model) == Group(spec, job.ConfigAs<HealJob>().Model));

    /// <summary>The group of <see cref="ModelsPerProcess"/> that <paramref name="model"/> (an id of
    /// <see cref="ModelIds"/>) is trained in, and evaluated in: its place among the ids over the group's size.</summary>
    internal static int Group(PipelineSpec spec, string model) => ModelIds(spec).ToList().IndexOf(model) / ModelsPerProcess(spec);

    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<PipelineSpec, object> Planned = new();

    /// <summary>
    /// <c>gkd.models_per_process</c> when set; when 0, as many as leave none of the executor's <c>jobs</c> idle, within
    /// the device's memory (the GPU's shared by <c>executor.jobs_per_gpu</c> jobs, or the host's shared by
    /// <c>executor.jobs</c>) by <see cref="HealGroups.Estimate"/>; 1 on Slurm, whose jobs all run at once. A memory knob:
    /// no key holds it.
    /// </summary>
    public static int ModelsPerProcess(PipelineSpec spec)
    {
        if (spec.Gkd.ModelsPerProcess > 0) return spec.Gkd.ModelsPerProcess;
        if (spec.Executor.Kind == ExecutorKind.Slurm) return 1;
        return (int)Planned.GetValue(spec, s =>
        {
            var parent = ParentStage.PlannedConfig(s);
            var weightBytes = ComputeDevice.ElementBytesOn(s.Device, s.Dtype);
            return HealGroups.PerProcess(ModelIds(s).Count, s.Executor.Jobs, Cost.CostMeter.Parameters(parent), weightBytes, PlanMemory.Share(s), s.Device,
                HealGroups.Frozen(parent, s.Gkd.TrainEmbeddings));
        });
    }

    protected override void Run(HealJob job, JobContext context) => RunTogether([context]);

    /// <summary>Heals the group's models side by side: one parent, one pass of its blocks per batch for every model (each
    /// model's steps, checks and weights exactly as alone), each published under its own key.</summary>
    public override void RunTogether(IReadOnlyList<JobContext> contexts)
    {
        var students = new List<Student>();
        foreach (var context in contexts)
        {
            var id = context.Job.ConfigAs<HealJob>().Model;
            var (architecture, kind, skipped) = Chosen(context.Input("search"), id);
            if (architecture is null)
            {
                new HealReport(id, kind) { Skipped = skipped }.Write(context.OutputDirectory);
                context.Metrics["skipped"] = skipped;
                context.Log.WriteLine($"{id}: skipped ({skipped})");
            }
            else students.Add(new Student(context, context.Job.ConfigAs<HealJob>(), architecture, kind));
        }
        if (students.Count == 0) return;
        var first = students[0].Context;
        var parentDir = ParentStage.ModelDirectory(first);
        var device = first.Device;
        var parentConfig = HfConfig.Read(parentDir);
        foreach (var s in students) s.Config = VariantCatalog.ToModel(parentConfig, s.Job.SearchSpace.Alternatives, s.Architecture.Layers);
        // before minutes of loading: a group that cannot fit would run out of memory at its first step
        var models = students.Select(s => (s.Id, s.Config!)).ToList();
        var trainEmbeddings = students[0].Job.TrainEmbeddings; // the same for every model of a pipeline: its gkd settings
        if (TooLarge(parentConfig, models, device.Kind, device.ElementBytes, PlanMemory.Of(device.Kind), trainEmbeddings) is { } why)
            throw new InvalidOperationException(why);
        var (estimate, lines) = Estimated(parentConfig, models, device.Kind, device.ElementBytes, PlanMemory.Of(device.Kind),
            students.All(s => s.Job.CheckpointActivations), HealGroups.Frozen(parentConfig, trainEmbeddings));
        foreach (var s in students) s.Context.Metrics[device.Kind == DeviceKind.Cuda ? "estimated_gpu_bytes" : "estimated_rss_bytes"] = estimate;
        foreach (var line in lines) first.Log.WriteLine(line);
        using var parent = ParentModel.Load(parentDir, device);
        var dataset = Path.Combine(first.Input("data"), DataStage.Folder);
        using var train = TokenDataset.Open(dataset, DataSplit.Train);
        using var heldout = TokenDataset.Open(dataset, DataSplit.Selection); // its check chooses the weights a model publishes
        try
        {
            foreach (var s in students)
            {
                s.Model = device.Place(ChildAssembler.Assemble(parent, s.Config!, s.Architecture.Layers, variant =>
                    s.Context.Job.Inputs.ContainsKey("variant:" + variant) ? Path.Combine(s.Context.Input("variant:" + variant), DistillStage.WeightsFile) : null,
                    // kept as the parent's: its tensors, no copy, no gradient, no optimizer state, nothing in checkpoints or the guard
                    shareEmbeddings: !trainEmbeddings));
                first.Log.WriteLine($"{s.Id}: {s.Model.ParameterCount:N0} parameters ({(double)s.Model.ParameterCount / parent.ParameterCount:P0} of the parent), " +
                                    $"predicted speedup {s.Architecture.Predicted!.Speedup:0.00}x");
            }
            if (students.Count > 1) first.Log.WriteLine($"{students.Count} models train together, from one pass of the parent's blocks per batch");
            Phase(Contexts(students), "load and assemble");
            // the parent's blocks over the held-out checks' text once: every check of every model runs only its head
            using var checks = new TeacherPasses(parent, heldout.Leading(CheckSequences, 8).Select(heldout.GetBatch));
            foreach (var (s, before) in students.Zip(Evaluator.Evaluate([.. students.Select(s => s.Model!)], checks))) s.Before = before;
            Phase(Contexts(students), "check before");

            var gkd = students[0].Job.Training; // the same for every model of a pipeline: its gkd settings
            if (students.FirstOrDefault(s => s.Job.Training != gkd || s.Job.TrainEmbeddings != trainEmbeddings || s.Context.Job.Seed != first.Job.Seed) is { } other)
                throw new InvalidOperationException($"Heal {other.Id} and {students[0].Id} train on different batches or settings: they cannot train together");
            var tokensPerBatch = (long)gkd.Batch * train.SeqLen;
            var options = gkd.OptionsAt(parent.Config.HiddenSize);
            if (options.WarmupWarning(tokensPerBatch, "gkd") is { } warmup) first.Log.WriteLine(warmup);
            var learners = students.Select(s =>
            {
                var child = s.Model!;
                var loss = new GkdObjective(parent, child, s.Job.Loss.Cosine, s.Job.Loss.Kl, s.Job.Loss.Lm, new GkdMemory(CheckpointBlocks: s.Job.CheckpointActivations));
                var checkpoints = TrainCheckpoints.FromSpec(s.Context.ResumeDirectory, s.Job.CheckpointEvery, s.Job.CheckpointMinutes,
                    line => s.Context.Log.WriteLine($"gkd {s.Id}: {line}"));
                s.ResumedFrom = checkpoints.LatestStep;
                // held-out KL at step 0 and every few steps: each model publishes the best weights it had, never worse than assembled
                // its best weights off the device: a GPU's in host memory, a CPU's in files the kernel may write out
                s.Guard = new HeldoutGuard(() =>
                {
                    child.eval();
                    s.LastCheck = Check(child, checks);
                    child.train();
                    return s.LastCheck.Kl!.Value;
                }, offload: Path.Combine(s.Context.ResumeDirectory, BestWeightsFolder));
                child.train();
                // the check before training is the guard's own at step 0: the same weights, batches and evaluation
                return new Learner<TeacherPass>(child.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)), t => loss.Step(t).Total,
                    new ProgressLine($"gkd {s.Id}", options.Steps(tokensPerBatch) * tokensPerBatch, first.Log), checkpoints, s.Guard, s.Before!.Kl, s.Id);
            }).ToList();
            var clock = Stopwatch.StartNew();
            // one seed for every model (the stage's jobs are planned with gkd's): the same batches, so one parent pass serves all
            var curves = Trainer.RunTogether(learners, train.InfiniteBatches(gkd.Batch, (ulong)first.Job.Seed).Select(train.GetBatch).Select(device.Put),
                tokens => GkdObjective.Teach(parent, tokens), tokensPerBatch, options, lossBackpropagates: true);
            var seconds = clock.Elapsed.TotalSeconds;
            Phase(Contexts(students), "train (with held-out checks)");

            foreach (var (s, curve) in students.Zip(curves))
            {
                s.Model!.eval();
                var after = Checked(s.Guard!, s.Before!, s.LastCheck) ?? Check(s.Model, checks);
                Save(s, parentDir, device);
                var trainedTokens = curve[^1].Tokens - (s.ResumedFrom ?? 0) * tokensPerBatch;
                Report(s, parent, curve, after, seconds, trainedTokens / Math.Max(1e-9, seconds), heldout.SeqLen, students.Count);
            }
            Phase(Contexts(students), "check after and save");
        }
        finally
        {
            foreach (var s in students)
            {
                s.Guard?.Dispose();
                s.Model?.Dispose();
            }
        }
    }

    /// <summary>
    /// Why one Heal process cannot train <paramref name="models"/> (ids and architectures) against
    /// <paramref name="parent"/> within <paramref name="available"/> bytes of its device, counted as
    /// <see cref="HealGroups.Least"/> counts (weights and training state, nothing on top, so it certainly runs out), with
    /// what would fit: one model per process, a child of at most so many parameters, or the embeddings and LM head kept
    /// as the parent's. Null where it fits, or where the memory is not known. The pre-launch check counts the parent
    /// alone: what a model holds is known only after Search.
    /// </summary>
    internal static string? TooLarge(ModelConfig parent, IReadOnlyList<(string Id, ModelConfig Config)> models, DeviceKind device, int weightBytes, long? available,
        bool trainEmbeddings = true)
    {
        if (available is not { } memory) return null;
        var sizes = models.Select(m => (m.Id, Parameters: CostMeter.Parameters(m.Config))).ToList();
        var parentParameters = CostMeter.Parameters(parent);
        var frozen = HealGroups.Frozen(parent, trainEmbeddings);
        if (HealGroups.Least(parentParameters, sizes.Select(m => m.Parameters), weightBytes, frozen) <= memory) return null;

        var state = HealGroups.StateBytesPerParameter(weightBytes);
        var floor = new MemoryFloor([MemoryFloor.ParentWeights(parent, weightBytes), .. sizes.Select(m => new MemoryPart(
            $"{m.Id}'s weights and training state, " + (frozen == 0 ? $"{CostMeter.Readable(m.Parameters)} parameters at {state} bytes each"
                : $"{CostMeter.Readable(m.Parameters - frozen)} trained parameters at {state} bytes each and {CostMeter.Readable(frozen)} frozen (the parent's)"),
            HealGroups.ModelBytes(m.Parameters, frozen, weightBytes)))]);
        var most = HealGroups.MostParameters(parentParameters, weightBytes, memory, frozen);
        var text = new StringBuilder(
            $"Healing {string.Join(" and ", sizes.Select(m => m.Id))} in one process needs at least {StoreUsage.Human(floor.Bytes)}, more than " +
            $"{(device == DeviceKind.Cpu ? "this machine's" : "the GPU's")} {StoreUsage.Human(memory)}: {floor.Holds}. " +
            "That counts weights and training state alone; activations come on top.");
        if (sizes.Count > 1 && sizes.All(m => m.Parameters <= most))
            text.Append(" Each fits in a process of its own: set gkd.models_per_process: 1.");
        else if (most == 0)
            text.Append(" The parent's weights alone do not fit.");
        else
        {
            // rounded down, so that a child within the fraction fits
            var fraction = Math.Floor(100.0 * most / parentParameters) / 100;
            text.Append(CultureInfo.InvariantCulture, $" A model of at most {CostMeter.Readable(most)} parameters ({fraction:0.00} of the parent's) fits in a process of its own: " +
                                                      $"constraints.params_vs_parent: {fraction:0.00} makes the search choose such a child{(sizes.Count > 1 ? ", and gkd.models_per_process: 1 heals each model alone" : "")}.");
        }
        var frozenIfAsked = HealGroups.Frozen(parent, trainEmbeddings: false);
        if (trainEmbeddings && HealGroups.Least(parentParameters, sizes.Select(m => m.Parameters), weightBytes, frozenIfAsked) <= memory)
            text.Append($" Or keep the embeddings and the LM head as the parent's ({CostMeter.Readable(frozenIfAsked)} parameters each model does not train), " +
                        "and these fit as they are: gkd.train_embeddings: false.");
        text.Append(" docs/scale.md (\"What fits where\") gives what each parent size needs; nothing was published.");
        return text.ToString();
    }

    /// <summary>
    /// What one Heal process of <paramref name="models"/> is estimated to hold at its peak, by <see cref="HealGroups.Of"/>
    /// (fitted to Heal peaks: the 1B shape's children on this project's CPU within 2% of it, the 1B and 8B shapes' on an
    /// H200 within 5%), for the manifest beside the measured peak and the log; with a warning where that is more than the
    /// device's <paramref name="available"/> bytes: a process that passes <see cref="TooLarge"/>'s certain count but will
    /// most likely run out of memory during training.
    /// </summary>
    internal static (long Bytes, IReadOnlyList<string> Lines) Estimated(ModelConfig parent, IReadOnlyList<(string Id, ModelConfig Config)> models,
        DeviceKind device, int weightBytes, long? available, bool checkpointing, long frozen = 0)
    {
        var trained = models.Sum(m => CostMeter.Parameters(m.Config) - frozen);
        var bytes = HealGroups.Of(CostMeter.Parameters(parent) * weightBytes, trained, weightBytes, device);
        var (memory, whose) = device == DeviceKind.Cuda ? ("GPU memory", "the GPU's") : ("memory", "this machine's");
        var ids = string.Join(" and ", models.Select(m => m.Id));
        List<string> lines = [$"{ids}: about {bytes / 1e9:F1} GB of {memory} (estimated: the parent's weights and {CostMeter.Readable(trained)} " +
                              $"trained parameters at {HealGroups.StateBytesPerParameter(weightBytes)} bytes" +
                              (frozen > 0 ? $", {CostMeter.Readable(frozen)} frozen per model (the parent's)" : "") + ", with what comes on top)"];
        if (available is { } total && bytes > total)
            lines.Add($"warning: that is more than {whose} {total / 1e9:F1} GB: the process will most likely run out of memory during training; " +
                      (models.Count > 1 ? "gkd.models_per_process: 1 heals each model alone" : "a smaller child (constraints.params_vs_parent) holds less") +
                      (checkpointing ? "" : "; gkd.checkpoint_activations: true keeps fewer activations"));
        return (bytes, lines);
    }

    static IReadOnlyList<JobContext> Contexts(IEnumerable<Student> students) => students.Select(s => s.Context).ToList();

    /// <summary>One model a Heal process trains, and what it has made of it so far.</summary>
    sealed class Student(JobContext context, HealJob job, ChosenArchitecture architecture, string kind)
    {
        public JobContext Context { get; } = context;
        public HealJob Job { get; } = job;
        public ChosenArchitecture Architecture { get; } = architecture;
        public string Kind { get; } = kind;
        public string Id => Job.Model;
        public ModelConfig? Config { get; set; }
        public CausalLM? Model { get; set; }
        public LmMetrics? Before { get; set; }
        /// <summary>The guard's latest check in this process (the last point of its curve, where there is one).</summary>
        public LmMetrics? LastCheck { get; set; }
        public long? ResumedFrom { get; set; }
        public HeldoutGuard? Guard { get; set; }
    }

    static void Save(Student s, string parentDir, ComputeDevice device)
    {
        var extra = new Dictionary<string, string>();
        var tokenizerConfig = Path.Combine(parentDir, "tokenizer_config.json");
        if (File.Exists(tokenizerConfig)) extra["tokenizer_config.json"] = File.ReadAllText(tokenizerConfig);
        var tokenizer = Path.Combine(parentDir, Checkpoint.TokenizerFileName);
        // in the dtype it was trained in (bf16 on a GPU: float32 would double the bytes of every model Heal writes, and
        // of what Evaluate, Speed and Export read, for nothing)
        Checkpoint.Save(s.Context.Output(ModelFolder), s.Config!, s.Model!.state_dict(), CheckpointFormat.NemotronNas, TensorDTypes.Of(device.DType),
            tokenizerPath: File.Exists(tokenizer) ? tokenizer : null, extraFiles: extra);
    }

    static void Report(Student s, CausalLM parent, IReadOnlyList<CurvePoint> curve, LmMetrics after, double seconds, double tokensPerS,
        int seqLen, int together)
    {
        var (context, guard, before) = (s.Context, s.Guard!, s.Before!);
        new HealReport(s.Id, s.Kind)
        {
            Architecture = s.Architecture, Parameters = s.Model!.ParameterCount, ParentParameters = parent.ParameterCount,
            Gkd = new GkdRun(curve[^1].Tokens, seconds, tokensPerS, s.ResumedFrom, before.Tokens / Math.Max(1, seqLen),
                HeldoutCheck.Of(before), HeldoutCheck.Of(after), guard.BestStep, guard.Last, guard.Points.ToList()),
        }.Write(context.OutputDirectory);
        File.WriteAllText(context.Output(CurveFile), JsonSerializer.Serialize(curve, PuzzleJson.Options));
        var m = context.Metrics;
        m["kl_before"] = before.Kl;
        m["kl_after"] = after.Kl;
        m["best_step"] = guard.BestStep;
        m["last_kl"] = guard.Last;
        m["trained_together"] = together;
        if (guard.BestStep == 0)
            context.Log.WriteLine($"warning: {s.Id}: global distillation did not lower held-out KL ({guard.Initial:G4} at the start, {guard.Last:G4} at the end): " +
                                  "the assembled weights are published; try a lower gkd.lr or more gkd.tokens");
        m["tokens_per_s"] = tokensPerS;
        m["loss_curve"] = JsonSerializer.SerializeToNode(curve, PuzzleJson.Options);
        context.Log.WriteLine($"{s.Id}: KL(parent ‖ child) on {CheckSequences} held-out sequences {before.Kl:G4} → {after.Kl:G4}, " +
                              $"agreement {before.Agreement:P1} → {after.Agreement:P1}");
    }

    static LmMetrics Check(CausalLM child, TeacherPasses parent) => Evaluator.Evaluate([child], parent)[0];

    /// <summary>The check of the weights <paramref name="guard"/> left in the model, where this process made it: the
    /// assembled weights' (<paramref name="before"/>, the best at step 0, resumed or not) or the last step's
    /// (<paramref name="lastCheck"/>, the guard's latest evaluation, when the run ended with its best weights). Null
    /// where the best weights were checked in an earlier process, or between.</summary>
    internal static LmMetrics? Checked(HeldoutGuard guard, LmMetrics before, LmMetrics? lastCheck) =>
        guard.BestStep == 0 ? before : lastCheck is not null && guard.BestStep == guard.Points[^1].Step ? lastCheck : null;

}
