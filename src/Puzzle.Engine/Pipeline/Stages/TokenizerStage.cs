using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>Tokenizer: the parent's own tokenizer.json, or, for a parent pretrained here, a BPE vocabulary trained on the data.</summary>
public sealed class TokenizerStage : Stage<TokenizerStage.TokenizerJob>
{
    /// <summary>Either the parent's tokenizer (by content), or a BPE vocabulary of <see cref="VocabSize"/> trained on the text.</summary>
    public sealed record TokenizerJob(
        string? ParentTokenizerSha256,
        [property: NotInKey("where the parent lies; its tokenizer's content is keyed")] string? ParentTokenizer,
        [property: SpecPath("parent.pretrain.vocab_size")] int? VocabSize, [property: SpecPath("data.train")] LocalText? LocalTrain, [property: SpecPath("data.jsonl_field")] string? JsonlField);

    public override string Name => "Tokenizer";
    public override int Version => 2; // 2: typed job config (data.jsonl_field is keyed)
    public override IReadOnlyList<string> Upstream => ["Fetch"];
    public override string Description => "train a BPE tokenizer (or take the parent's)";
    public override bool UsesTorch => false;
    public override bool SingleThreaded => true;
    public const string FileName = "tokenizer.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        if (spec.Parent.Path is { } parent)
        {
            var file = Path.Combine(ParentStage.ResolvePath(spec, parent), FileName);
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: the parent has no tokenizer.json");
            return [Job("tokenizer", new TokenizerJob(CacheStore.HashFile(file), file, null, null, null))];
        }
        return [Job("tokenizer", new TokenizerJob(null, null, spec.Parent.Pretrain!.VocabSize, LocalText.Of(spec), spec.Data.JsonlField),
            LocalText.FetchInputs(planned))];
    }

    protected override void Run(TokenizerJob job, JobContext context)
    {
        if (job.ParentTokenizer is { } file)
        {
            // loaded here, so that a file the library cannot read, or one with ids the parent cannot embed, is named
            // as the user's file now rather than as the store's copy a stage later
            using (var tokenizer = Tokenizer.Load(file))
            {
                var parent = System.IO.Path.GetDirectoryName(file)!;
                tokenizer.RequireFits(HfConfig.Read(parent), parent);
                context.Metrics["vocab_size"] = tokenizer.VocabSize;
            }
            File.Copy(file, context.Output(FileName));
            return;
        }
        var local = job.LocalTrain!;
        var model = BpeTrainer.TrainOnFiles(local.Inputs(context), local.BaseDirectory,
            new BpeTrainerOptions { VocabSize = job.VocabSize!.Value }, job.JsonlField!);
        model.Save(context.OutputDirectory);
        context.Metrics["vocab_size"] = model.VocabSize;
        context.Metrics["training_characters"] = model.TrainingCharacters;
        context.Log.WriteLine($"tokenizer: {model.VocabSize} tokens from {model.TrainingCharacters:N0} characters in {model.Elapsed.TotalSeconds:F1} s");
    }
}
