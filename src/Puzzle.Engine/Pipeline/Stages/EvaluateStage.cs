using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Evaluation.Tasks;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Evaluate: every model on held-out text the pipeline neither trained on nor chose with (the Data job's evaluation part), against the
/// parent: LM loss, top-1, KL(parent ‖ model) and top-1 agreement, and its accuracy on multiple-choice tasks
/// (<see cref="EvaluateTasks"/>). Its speed is measured by the Speed job, beside every other model's.
/// </summary>
public sealed class EvaluateStage : Stage<EvaluateStage.EvaluateJob>
{
    /// <summary>One model to evaluate (the parent, or a Heal job's model): held-out tokens, the tasks, and the device.</summary>
    public sealed record EvaluateJob(string Model, [property: SpecPath("evaluation.tokens")] long Tokens, TaskSettings Tasks, string? Device,
        [property: NotInKey("where the spec lies: only a relative tokenizer path in the Data job's manifest is resolved against it")] string BaseDirectory);

    /// <summary>One task file: its name, its content's SHA-256 (what the key hashes) and where it lies.</summary>
    [JobRecord]
    public sealed record TaskFile(string Name, string Sha256, [property: NotInKey("where the file lies; its content is keyed")] string Path);

    /// <summary>What the tasks read (<see cref="EvaluateTasks"/>): the task files, the held-out task's settings and its seed.</summary>
    [JobRecord]
    public sealed record TaskSettings([property: SpecPath("evaluation.tasks")] IReadOnlyList<TaskFile> Files,
        [property: SpecPath("evaluation.next_span")] NextSpanSpec NextSpan, [property: SpecPath("evaluation.seed")] long Seed)
    {
        public static TaskSettings Of(PipelineSpec spec) => new(spec.Evaluation.Tasks.Select(t =>
        {
            var path = System.IO.Path.Combine(spec.BaseDirectory, t);
            return new TaskFile(ChoiceTaskFile.NameOf(t), CacheStore.HashFile(path), path);
        }).ToList(), spec.Evaluation.NextSpan, spec.Evaluation.Seed);

        public NextSpanOptions NextSpanOptions => new(NextSpan.Examples, NextSpan.Choices, NextSpan.SpanWords, (ulong)Seed);
    }

    /// <summary>metrics.json: one model's held-out quality against the parent and its task scores (or why it was not
    /// evaluated).</summary>
    public sealed record EvaluationMetrics(string Name, string Kind)
    {
        public string? Skipped { get; init; }
        public long Tokens { get; init; }
        public double Loss { get; init; }
        public double Perplexity { get; init; }
        public double Top1 { get; init; }
        /// <summary>KL(parent ‖ model); 0 for the parent itself.</summary>
        public double Kl { get; init; }
        /// <summary>Top-1 agreement with the parent; 1 for the parent itself.</summary>
        public double Agreement { get; init; } = 1;
        public long Parameters { get; init; }
        public IReadOnlyList<TaskScore> Tasks { get; init; } = [];

        public static EvaluationMetrics Read(string jobDirectory) => RecordFile.Read<EvaluationMetrics>(Path.Combine(jobDirectory, MetricsFile));
    }

    public override string Name => "Evaluate";
    public override int Version => 6; // 6: no timing (the Speed job times every model); 5: timings with malloc keeping freed pages (MallocTuning); 4: typed job config; 3: multiple-choice tasks; 2: children and baselines against the parent, measured speed
    public override IReadOnlyList<string> Upstream => ["Data", "Parent", "Heal"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Device;
    public override MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) => MemoryFloor.Parent(spec, spec.Device);
    public override string Description => "evaluate parent, children and baselines on held-out text";
    public const string MetricsFile = "metrics.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var common = new Dictionary<string, JobPlan> { ["parent"] = planned["Parent"].Single(), ["data"] = planned["Data"].Single() };
        var tasks = TaskSettings.Of(spec);
        EvaluateJob Config(string model) => new(model, spec.Evaluation.Tokens, tasks, ComputeDevice.KeyName(spec.Device, spec.Dtype), spec.BaseDirectory);
        var jobs = new List<JobPlan> { Job("parent", Config("parent"), common) };
        var heal = planned.TryGetValue("Heal", out var h) ? h : [];
        jobs.AddRange(heal.Select(j => Job(j.Id, Config(j.Id), new Dictionary<string, JobPlan>(common) { ["model"] = j })));
        return jobs;
    }

    /// <summary>A healed model's Evaluate job is built with those of the models its Heal process trained
    /// (<see cref="HealStage.ModelsPerProcess"/>), which are ready at the same time: one process loads the parent and
    /// the held-out text once and runs the parent once per batch for all of them. The parent's own job runs alone.</summary>
    public override IEnumerable<JobPlan> Companions(JobPlan job, IReadOnlyList<JobPlan> stageJobs, PipelineSpec spec)
    {
        if (HealStage.ModelsPerProcess(spec) <= 1 || !job.Inputs.ContainsKey("model")) return [];
        var group = HealStage.Group(spec, job.ConfigAs<EvaluateJob>().Model);
        return stageJobs.Where(j => j != job && j.Inputs.ContainsKey("model") && HealStage.Group(spec, j.ConfigAs<EvaluateJob>().Model) == group);
    }

    protected override void Run(EvaluateJob job, JobContext context) => RunTogether([context]);

    /// <summary>Evaluates the jobs' models against one pass of the parent per batch (each model's sums exactly as
    /// alone), then each on the tasks.</summary>
    public override void RunTogether(IReadOnlyList<JobContext> contexts)
    {
        var evaluated = new List<(JobContext Context, EvaluateJob Job, string Kind, string? ModelDir)>();
        foreach (var context in contexts)
        {
            var job = context.Job.ConfigAs<EvaluateJob>();
            if (!context.Job.Inputs.ContainsKey("model"))
            {
                evaluated.Add((context, job, "parent", null));
                continue;
            }
            var heal = HealStage.HealReport.Read(context.Input("model"));
            if (heal.Skipped is { } why) Write(context, new EvaluationMetrics(job.Model, heal.Kind) { Skipped = why });
            else evaluated.Add((context, job, heal.Kind, Path.Combine(context.Input("model"), HealStage.ModelFolder)));
        }
        if (evaluated.Count == 0) return;
        if (evaluated.Count > 1 && evaluated.Any(e => e.ModelDir is null)) throw new InvalidOperationException("the parent's Evaluate job runs alone");
        var first = evaluated[0];
        var parentDir = ParentStage.ModelDirectory(first.Context);
        using var parent = ParentModel.Load(parentDir, first.Context.Device);
        var models = new List<CausalLM>();
        try
        {
            foreach (var e in evaluated.Where(e => e.ModelDir is not null)) models.Add(ParentModel.Load(e.ModelDir!, first.Context.Device));
            var dataset = Path.Combine(first.Context.Input("data"), DataStage.Folder);
            using var heldout = TokenDataset.Open(dataset, DataSplit.Evaluation); // never the text that chose or trained the model
            var all = evaluated.Select(e => e.Context).ToList();
            Phase(all, "load");
            var label = $"evaluate {string.Join(", ", evaluated.Select(e => e.Context.Job.Id))}";
            var qualities = models.Count == 0 ? [Quality((CausalLM?)null, parent, heldout, first.Job.Tokens, label, first.Context.Log)]
                : Quality(models, parent, heldout, first.Job.Tokens, label, first.Context.Log);
            Phase(all, "held-out text");
            using var tokenizer = EvaluateTasks.Tokenizer(parentDir, heldout, first.Job.BaseDirectory);
            for (var i = 0; i < evaluated.Count; i++)
            {
                var (context, job, kind, _) = evaluated[i];
                var model = models.Count == 0 ? parent : models[i];
                var quality = qualities[i];
                var taskList = EvaluateTasks.Load(job.Tasks.NextSpanOptions, job.Tasks.Files.Select(f => f.Path), heldout, tokenizer,
                    context.Output(EvaluateTasks.Folder), context.Log);
                var tasks = EvaluateTasks.Score(model, tokenizer, taskList, batch: 16, context.Job.Id, context.Log);
                Write(context, new EvaluationMetrics(job.Model, kind)
                {
                    Tokens = quality.Tokens, Loss = quality.Loss, Perplexity = quality.Perplexity, Top1 = quality.Top1, Kl = quality.Kl ?? 0,
                    Agreement = quality.Agreement ?? 1, Parameters = model.ParameterCount, Tasks = tasks,
                });
                context.Metrics["evaluated_together"] = evaluated.Count;
                context.Log.WriteLine($"{context.Job.Id}: held-out loss {quality.Loss:F4}, top-1 {quality.Top1:P2}" +
                    (models.Count == 0 ? "" : $", KL {quality.Kl:F4}, agreement {quality.Agreement:P1}"));
            }
            Phase(all, "tasks");
        }
        finally
        {
            foreach (var m in models) m.Dispose();
        }
    }

    /// <summary>A model against the parent (or the parent alone) on the leading <paramref name="tokens"/> of held-out
    /// text: every model a run compares is scored on the same sequences.</summary>
    internal static LmMetrics Quality(CausalLM? model, CausalLM parent, TokenDataset heldout, long tokens, string label, TextWriter log) =>
        model is null ? Evaluator.Evaluate(parent, Leading(heldout, tokens, label, log))
            : Evaluator.Evaluate(model, Leading(heldout, tokens, label, log), parent);

    /// <summary>Several models against the parent on the same sequences as <see cref="Quality(CausalLM?, CausalLM, TokenDataset, long, string, TextWriter)"/>,
    /// the parent run once per batch for all of them.</summary>
    internal static IReadOnlyList<LmMetrics> Quality(IReadOnlyList<CausalLM> models, CausalLM parent, TokenDataset heldout, long tokens, string label, TextWriter log) =>
        Evaluator.Evaluate(models, Leading(heldout, tokens, label, log), parent);

    /// <summary>The batches of the leading <paramref name="tokens"/> of held-out text, reporting progress as they are read.</summary>
    static IEnumerable<TorchSharp.torch.Tensor> Leading(TokenDataset heldout, long tokens, string label, TextWriter log)
    {
        var count = Math.Clamp(tokens / heldout.SeqLen, 1, heldout.Count);
        if (DataStage.Short(heldout, tokens, "evaluation.tokens") is { } shortOf) log.WriteLine(shortOf);
        var evaluating = new Training.ProgressLine(label, count, log, unit: "seq");
        long done = 0;
        return heldout.Leading(count, 8).Select(ids =>
        {
            evaluating.Report(done += ids.Length, double.NaN);
            return heldout.GetBatch(ids);
        });
    }

    static void Write(JobContext context, EvaluationMetrics metrics)
    {
        RecordFile.Write(context.Output(MetricsFile), metrics);
        // the manifest keeps the scalar fields, as a run summary shows them
        foreach (var (k, v) in JsonSerializer.SerializeToNode(metrics, PuzzleJson.Options)!.AsObject())
            if (v is JsonValue) context.Metrics[k] = v.DeepClone();
    }
}
