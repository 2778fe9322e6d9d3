using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tokenization;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Parent: pretrained here from the pipeline's data (parent.pretrain), or a user's Hugging Face checkpoint
/// (parent.path), validated (every weight's name and shape, and that it is finite) and referenced where it lies rather
/// than copied. Pretraining checkpoints every parent.pretrain.checkpoint_minutes (or checkpoint_every steps); a killed
/// job resumes where it stopped, as Heal does.
/// </summary>
public sealed class ParentStage : Stage<ParentStage.ParentJob>
{
    /// <summary>A user's checkpoint (by content), or the recipe of a parent pretrained here (on the Data job's sequences).</summary>
    public sealed record ParentJob(
        string? Fingerprint,
        [property: NotInKey("where the checkpoint lies; its content is keyed")] string? Directory,
        [property: SpecPath("parent.pretrain")] PretrainSpec? Pretrain, string? Device);

    public override string Name => "Parent";
    public override int Version => 3; // 3: typed job config; 2: pretraining initialised from a generator of its own, not torch's global one
    public override IReadOnlyList<string> Upstream => ["Tokenizer", "Data"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Parent.Pretrain is null ? null : spec.Device;
    public override string Description => "pretrain the parent (or validate the given one)";
    public const string ModelFolder = "model";
    public const string PointerFile = "parent.json";

    public static string ResolvePath(PipelineSpec spec, string path) => Path.GetFullPath(path, spec.BaseDirectory);

    /// <summary>The parent's architecture known at plan time (from parent.pretrain, or the given checkpoint's config.json).</summary>
    public static ModelConfig PlannedConfig(PipelineSpec spec) => spec.Parent.Path is { } path
        ? HfConfig.Read(ResolvePath(spec, path))
        : spec.Parent.Pretrain!.Shape(spec.Parent.Pretrain.VocabSize, spec.Data.SeqLen);

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        if (spec.Parent.Path is { } path)
        {
            var dir = ResolvePath(spec, path);
            return [Job("parent", new ParentJob(Fingerprint(dir), dir, null, null))];
        }
        var inputs = new Dictionary<string, JobPlan>
        {
            ["tokenizer"] = planned["Tokenizer"].Single(),
            ["data"] = planned["Data"].Single(),
        };
        var pretrain = spec.Parent.Pretrain!;
        return [Job("parent", new ParentJob(null, null, pretrain, ComputeDevice.KeyName(spec.Device, spec.Dtype)), inputs, pretrain.Training.Seed)];
    }

    /// <summary>The folder holding the parent's Hugging Face checkpoint, given the Parent job's published folder.</summary>
    public static string ModelDirectory(string jobDirectory)
    {
        var pointer = Path.Combine(jobDirectory, PointerFile);
        return File.Exists(pointer) ? RecordFile.Read<ParentPointer>(pointer).Path : Path.Combine(jobDirectory, ModelFolder);
    }

    /// <summary>
    /// The folder holding the parent's checkpoint for a job that reads the Parent job as its input "parent". A user's
    /// checkpoint is the folder this run planned (whose content the Parent job's key hashes), not the one the entry's
    /// parent.json names: the key leaves out where the folder lies, so an entry built for one folder is a hit for another
    /// of the same content (the folder moved, or a copy of it) and its pointer may name a folder that is gone or has
    /// since changed.
    /// </summary>
    public static string ModelDirectory(JobContext context) =>
        context.Job.Inputs.TryGetValue("parent", out var parent) ? ModelDirectory(parent, context.Input("parent")) : ModelDirectory(context.Input("parent"));

    /// <summary>The folder holding the parent's checkpoint, given the Parent job this run planned and its published folder.</summary>
    public static string ModelDirectory(JobPlan parent, string jobDirectory) =>
        parent.Config is ParentJob { Directory: { } planned } ? planned : ModelDirectory(jobDirectory);

    /// <summary>parent.json: where a user's checkpoint lies (it is referenced, not copied) and its content fingerprint.</summary>
    public sealed record ParentPointer(string Path, string Fingerprint);

    protected override void Run(ParentJob job, JobContext context)
    {
        if (job.Directory is { } dir)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var (config, tensors) = Checkpoint.Open(dir);
            using (tensors) context.Metrics["weight_bytes_checked"] = CheckpointValidator.CheckFinite(config, tensors);
            RecordFile.Write(context.Output(PointerFile), new ParentPointer(dir, job.Fingerprint!));
            context.Metrics["layers"] = config.NumLayers;
            context.Metrics["check_seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2);
            return;
        }
        using var tokenizer = Tokenizer.Load(Path.Combine(context.Input("tokenizer"), TokenizerStage.FileName));
        var recipe = job.Pretrain!;
        var report = ParentBuilder.Pretrain(recipe.Shape, recipe.Training.OptionsAt(recipe.Hidden), recipe.Training.Batch, recipe.Training.Seed, tokenizer,
            Path.Combine(context.Input("data"), DataStage.Folder), context.Output(ModelFolder), context.Log.WriteLine, context.Log, context.Device,
            TrainCheckpoints.FromSpec(context.ResumeDirectory, recipe.CheckpointEvery, recipe.CheckpointMinutes, line => context.Log.WriteLine($"parent: {line}")));
        context.Metrics["resumed_from_step"] = report.ResumedFromStep;
        context.Metrics["parameters"] = report.Parameters;
        context.Metrics["heldout_loss"] = report.Heldout.Loss;
        context.Metrics["heldout_top1"] = report.Heldout.Top1;
        context.Metrics["unigram_entropy"] = report.HeldoutUnigramEntropy;
        context.Metrics["train_tokens_per_s"] = report.TrainTokensPerSecond;
    }

    /// <summary>
    /// Identifies a user's checkpoint by content: every file's name and SHA-256 (config.json's among them), so a
    /// fine-tuned checkpoint with the same shapes is another parent, and so is one with another tokenizer file or chat
    /// template the export carries; of its folders, only the chat templates' one the export carries
    /// (<see cref="ChildExporter.TemplateFiles"/>: a download's <c>.cache/</c> or <c>original/</c> weights go nowhere).
    /// A file is read once and remembered by its path, size and times (<see cref="FileFingerprints"/>), so planning a
    /// 140 GB parent again reads nothing.
    /// </summary>
    static string Fingerprint(string dir)
    {
        if (!File.Exists(Path.Combine(dir, HfConfig.FileName))) throw new FileNotFoundException($"{dir}: no config.json (not a Hugging Face model folder)");
        var parts = Directory.EnumerateFiles(dir).Select(f => (Name: Path.GetFileName(f), Path: f))
            .Concat(ChildExporter.TemplateFiles(dir))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => $"{f.Name}:{FileFingerprints.Sha256(f.Path)}");
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", parts))));
    }
}
