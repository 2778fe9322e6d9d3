using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>Tokenizer: the parent's own tokenizer.json, or, for a parent pretrained here, a BPE vocabulary trained on the data.</summary>
public sealed class TokenizerStage : Stage<TokenizerStage.TokenizerJob>
{
    /// <summary>Either the parent's tokenizer (by content: <see cref="ParentTokenizerSha256"/>), or a BPE vocabulary of
    /// <see cref="VocabSize"/> trained on the text.</summary>
    /// <param name="ParentTokenizerSha256">SHA-256 of the parent's tokenizer.json, or, where a tokenizer_config.json is
    /// beside it, of both files' hashes (that file names the BOS and EOS the data is tokenized with)</param>
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
    public const string ConfigFileName = "tokenizer_config.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        if (spec.Parent.Path is { } parent)
        {
            var file = Path.Combine(ParentStage.ResolvePath(spec, parent), FileName);
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: the parent has no tokenizer.json");
            var config = Path.Combine(Path.GetDirectoryName(file)!, ConfigFileName);
            var content = File.Exists(config) // a parent without one keeps the key it had
                ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                    System.Text.Encoding.UTF8.GetBytes($"{CacheStore.HashFile(file)}\n{CacheStore.HashFile(config)}")))
                : CacheStore.HashFile(file);
            return [Job("tokenizer", new TokenizerJob(content, file, null, null, null))];
        }
        return [Job("tokenizer", new TokenizerJob(null, null, spec.Parent.Pretrain!.VocabSize, LocalText.Of(spec), spec.Data.JsonlField),
            LocalText.FetchInputs(planned))];
    }

    protected override void Run(TokenizerJob job, JobContext context)
    {
        if (job.ParentTokenizer is { } file)
        {
            // loaded here, so that a file the library cannot read, one with ids the parent cannot embed, or one without
            // BOS or EOS, is named as the user's file now rather than as the store's copy a stage later
            using (var tokenizer = Tokenizer.Load(file))
            {
                var parent = System.IO.Path.GetDirectoryName(file)!;
                tokenizer.RequireFits(HfConfig.Read(parent), parent);
                tokenizer.RequireBosAndEos();
                context.Metrics["vocab_size"] = tokenizer.VocabSize;
            }
            File.Copy(file, context.Output(FileName));
            // beside the copy, so that every stage loading it takes BOS and EOS from the parent's own settings (as the
            // check above did), not from the usual names, which some have none of (DeepSeek-R1-Distill-Llama's are
            // <｜begin▁of▁sentence｜> and <｜end▁of▁sentence｜>)
            var config = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(file)!, ConfigFileName);
            if (File.Exists(config)) File.Copy(config, context.Output(ConfigFileName));
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
