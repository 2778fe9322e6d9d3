using Puzzle.Engine.Data;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>Data: the text tokenized once into fixed-length sequences with a deterministic split into train and two
/// held-out parts disjoint by document: selection (Score, BLD's and GKD's checks) and evaluation (Evaluate).</summary>
public sealed class DataStage : Stage<DataStage.DataJob>
{
    /// <summary>How the text becomes token sequences: their length, the held-out share and its seed, the .jsonl text field.</summary>
    public sealed record DataJob([property: SpecPath("data.seq_len")] int SeqLen, [property: SpecPath("data.heldout_fraction")] double HeldoutFraction, [property: SpecPath("data.seed")] long Seed,
        [property: SpecPath("data.jsonl_field")] string JsonlField, [property: SpecPath("data.train")] LocalText LocalTrain);

    public override string Name => "Data";
    public override int Version => 4; // 4: a document repeating an earlier one's text is left out (a held-out passage was trained on in its copy); 3: typed job config; 2: held-out text in a selection and an evaluation part (dataset format 2)
    public override IReadOnlyList<string> Upstream => ["Fetch", "Tokenizer"];
    public override string Description => "tokenize and pack the text into token shards";
    public override bool UsesTorch => false;
    public const string Folder = "dataset";

    /// <summary>The warning a job logs when a held-out part holds fewer tokens than <paramref name="field"/> asks for
    /// (the job measures on what there is), or null when it holds enough.</summary>
    public static string? Short(TokenDataset part, long tokens, string field)
    {
        var held = part.Count * part.SeqLen;
        if (held >= tokens) return null;
        var name = part.Split.ToString().ToLowerInvariant();
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"warning: {field} is {tokens:N0}, but the {name} part of the held-out text holds {held:N0} tokens ({part.Count:N0} sequences of " +
            $"{part.SeqLen}): measured on those. More documents (data.train, data.npm) or a larger data.heldout_fraction hold more.");
    }

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var data = spec.Data;
        var inputs = LocalText.FetchInputs(planned);
        inputs["tokenizer"] = planned["Tokenizer"].Single();
        return [Job("tokens", new DataJob(data.SeqLen, data.HeldoutFraction, data.Seed, data.JsonlField, LocalText.Of(spec)), inputs, data.Seed)];
    }

    protected override void Run(DataJob job, JobContext context)
    {
        using var tokenizer = Tokenizer.Load(Path.Combine(context.Input("tokenizer"), TokenizerStage.FileName));
        var built = TokenDatasetBuilder.Build(tokenizer, new DataBuildOptions
        {
            Inputs = job.LocalTrain.Inputs(context), BaseDirectory = job.LocalTrain.BaseDirectory, JsonlField = job.JsonlField,
            SeqLen = job.SeqLen, HeldoutFraction = job.HeldoutFraction, Seed = (ulong)job.Seed, Threads = context.Threads,
        }, context.Output(Folder), log: line => { if (line.StartsWith("warning:", StringComparison.Ordinal)) context.Log.WriteLine(line); });
        var counts = built.Manifest.Counts;
        context.Metrics["tokens"] = counts.Tokens;
        context.Metrics["train_sequences"] = built.Manifest.Train.Sequences;
        context.Metrics["selection_sequences"] = built.Manifest.Selection.Sequences;
        context.Metrics["evaluation_sequences"] = built.Manifest.Evaluation.Sequences;
        context.Metrics["heldout_parts"] = built.Manifest.Split.Parts;
        context.Metrics["duplicate_documents"] = counts.DuplicateDocuments;
        context.Log.WriteLine($"data: {counts.Tokens:N0} tokens → {built.Manifest.Train.Sequences:N0} train / {built.Manifest.Selection.Sequences:N0} selection / " +
                              $"{built.Manifest.Evaluation.Sequences:N0} evaluation sequences (held-out parts by {built.Manifest.Split.Parts})");
    }
}
