using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>Tokenizer: the parent's own tokenizer.json, or, for a parent pretrained here, a BPE vocabulary trained on the data.</summary>
public sealed class TokenizerStage : Stage
{
    public override string Name => "Tokenizer";
    public override int Version => 1;
    public override IReadOnlyList<string> Upstream => ["Fetch"];
    public override string Description => "train a BPE tokenizer (or take the parent's)";
    public const string FileName = "tokenizer.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        if (spec.Parent.Path is { } parent)
        {
            var file = Path.Combine(ParentStage.ResolvePath(spec, parent), FileName);
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: the parent has no tokenizer.json");
            return [new JobPlan(this, "tokenizer", new JsonObject { ["parent_tokenizer_sha256"] = CacheStore.HashFile(file) }, new Dictionary<string, JobPlan>())];
        }
        var config = new JsonObject
        {
            ["vocab_size"] = spec.Parent.Pretrain!.VocabSize,
            ["local_train"] = LocalText.Fingerprint(spec),
        };
        return [new JobPlan(this, "tokenizer", config, LocalText.FetchInputs(planned))];
    }

    public override void Run(JobContext context)
    {
        if (context.Spec.Parent.Path is { } parent)
        {
            File.Copy(Path.Combine(ParentStage.ResolvePath(context.Spec, parent), FileName), context.Output(FileName));
            return;
        }
        var vocab = (int)context.Job.Config["vocab_size"]!;
        var model = BpeTrainer.TrainOnFiles(LocalText.Inputs(context), context.Spec.BaseDirectory,
            new BpeTrainerOptions { VocabSize = vocab }, context.Spec.Data.JsonlField);
        model.Save(context.OutputDirectory);
        context.Metrics["vocab_size"] = model.VocabSize;
        context.Metrics["training_characters"] = model.TrainingCharacters;
        context.Log.WriteLine($"tokenizer: {model.VocabSize} tokens from {model.TrainingCharacters:N0} characters in {model.Elapsed.TotalSeconds:F1} s");
    }
}
