using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Score: replace-1-block quality. One job per layer: each batch of held-out text goes through the parent up to the
/// layer once (one pass for all the layers of a process: <see cref="Companions"/>), and from there through the rest of the parent and, for each of the layer's variants, through the variant
/// in place of its subblock and the rest of the parent (with <c>scoring.blocks: combined</c>, each attention × FFN
/// pairing in place of the whole block: <see cref="ScoreCandidate"/>); each is compared with the parent: KL(parent ‖ model) per token,
/// LM loss, top-1 accuracy and agreement. The job also records the layer's block influence (ShortGPT: 1 − mean cos of
/// the layer's input and output), and the time of the parent's forward pass beside the variants'.
/// </summary>
public sealed class ScoreStage : Stage<ScoreStage.ScoreJob>
{
    /// <summary>One layer's candidates to score (variants, or attention × FFN pairings when <see cref="Blocks"/> is
    /// combined), over the first held-out sequences that <see cref="Tokens"/> covers, in
    /// batches of <see cref="Batch"/> sequences.</summary>
    public sealed record ScoreJob(int Layer, ScoreBlocks Blocks, IReadOnlyList<ScoreCandidate> Variants, [property: SpecPath("scoring.tokens")] long Tokens,
        [property: SpecPath("bld.batch")] int Batch, string? Device) : ILayerJob;

    /// <summary>scores.json: one layer's replace-1-block scores against the parent, its block influence, and what was
    /// scored (subblocks or combined pairings).</summary>
    public sealed record LayerScores(int Layer, long Tokens, string Blocks, ParentQuality Parent, double BlockInfluence,
        IReadOnlyDictionary<string, VariantScore> Variants)
    {
        public static LayerScores Read(string jobDirectory) => RecordFile.Read<LayerScores>(Path.Combine(jobDirectory, ScoresFile));

        /// <summary>One variant's (or pairing's) score, or an error naming the layer and the id.</summary>
        public VariantScore Of(string id) => Variants.TryGetValue(id, out var v) ? v
            : throw new InvalidDataException($"layer {Layer}: no score for {id} in {ScoresFile}");
    }

    /// <summary>The parent's own LM loss and top-1 on the scored text.</summary>
    public sealed record ParentQuality(double LmLoss, double Top1);

    /// <summary>The model with one variant in place, against the parent: KL(parent ‖ model), LM loss, top-1, agreement.</summary>
    public sealed record VariantScore(double Kl, double LmLoss, double Top1, double Agreement);

    public override string Name => "Score";
    public override int Version => 3; // 3: typed job config; 2: from the parent's stream; block influence
    public override IReadOnlyList<string> Upstream => ["Data", "Parent", "Distill"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Device;
    public override MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) => MemoryFloor.Parent(spec, spec.Device);
    public override string Description => "replace-1-block scores of every variant";
    public const string ScoresFile = "scores.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var parent = ParentStage.PlannedConfig(spec);
        var distill = planned["Distill"].ToDictionary(j => j.Id);
        var catalog = DistillStage.Catalog(parent, spec);
        return Enumerable.Range(0, parent.NumLayers).Select(layer =>
        {
            var candidates = ScoreCandidate.Of(parent, spec.SearchSpace.Alternatives, spec.Bld.Mode, spec.Scoring.Blocks, catalog, layer);
            var inputs = new Dictionary<string, JobPlan> { ["parent"] = planned["Parent"].Single(), ["data"] = planned["Data"].Single() };
            foreach (var v in candidates.SelectMany(c => c.Parts).Where(v => distill.ContainsKey(v.Id))) inputs["variant:" + v.Id] = distill[v.Id];
            return Job($"layer{layer}", new ScoreJob(layer, ScoreCandidate.Blocks(spec.Bld.Mode, spec.Scoring.Blocks), candidates, spec.Scoring.Tokens, spec.Bld.Training.Batch,
                ComputeDevice.KeyName(spec.Device, spec.Dtype)), inputs);
        }).ToList();
    }

    /// <summary>The first held-out sequences that <paramref name="tokens"/> covers: the text scores are measured on.</summary>
    public static long[] HeldoutSequences(TokenDataset heldout, long tokens) =>
        Enumerable.Range(0, (int)Math.Clamp((tokens + heldout.SeqLen - 1) / heldout.SeqLen, 1, heldout.Count)).Select(i => (long)i).ToArray();

    /// <summary>The other layers of the same block of <c>scoring.layers_per_process</c> layers (all layers when 0).</summary>
    public override IEnumerable<JobPlan> Companions(JobPlan job, IReadOnlyList<JobPlan> stageJobs, PipelineSpec spec) =>
        SameLayerBlock(job, stageJobs, spec.Scoring.LayersPerProcess);

    protected override void Run(ScoreJob job, JobContext context) => RunTogether([context]);

    /// <summary>
    /// Scores the layers of <paramref name="contexts"/> from one forward pass of the parent per batch: its input at
    /// every layer and its logits are computed once, and each variant runs from its layer to the head.
    /// </summary>
    public override void RunTogether(IReadOnlyList<JobContext> contexts)
    {
        var first = contexts[0];
        var settings = first.Job.ConfigAs<ScoreJob>();
        var batchSize = settings.Batch;
        var device = first.Device;
        using var parent = ParentModel.Load(ParentStage.ModelDirectory(first), device);
        var config = parent.Config;
        var layers = contexts.Select(c => new LayerRun(c, c.Job.ConfigAs<ScoreJob>(), config, parent)).ToList();
        using var data = TokenDataset.Open(Path.Combine(first.Input("data"), DataStage.Folder), DataSplit.Selection);
        var sequences = HeldoutSequences(data, settings.Tokens);
        if (DataStage.Short(data, settings.Tokens, "scoring.tokens") is { } shortOf) first.Log.WriteLine(shortOf);
        var parentSums = new LmMetricsAccumulator();
        var parentSeconds = 0.0;
        var clock = new System.Diagnostics.Stopwatch();
        Phase(contexts, "load");
        var progress = new Training.ProgressLine($"score {layers.Count} layer{(layers.Count == 1 ? "" : "s")}", sequences.Length * (long)data.SeqLen, first.Log);
        using (no_grad())
        {
            var (cos, sin) = parent.RotaryAt(0, data.SeqLen, device.Device, device.DType);
            for (var start = 0; start < sequences.Length; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var batch = sequences[start..Math.Min(sequences.Length, start + batchSize)];
                var tokens = device.Put(data.GetBatch(batch));
                var targets = tokens[.., 1..];
                device.Synchronize();
                clock.Restart();
                var embedded = parent.Embed(tokens[.., ..^1]);
                var outputs = new List<Tensor>();
                var reference = parent.Head(parent.RunBlocks(embedded, 0, config.NumLayers, outputs: outputs));
                parentSums.Add(reference, targets);
                device.Synchronize();
                parentSeconds += clock.Elapsed.TotalSeconds;
                // what the metrics take from the parent's logits alone, once for all of the batch's variants
                using var teacher = new LmMetricsAccumulator.Teacher(reference);
                foreach (var l in layers)
                    l.Add(l.Layer == 0 ? embedded : outputs[l.Layer - 1], outputs[l.Layer], teacher, targets, cos, sin, device);
                progress.Report((start + batch.Length) * (long)data.SeqLen, double.NaN);
            }
        }
        Phase(contexts, "score");
        var own = parentSums.Result();
        foreach (var l in layers) l.Write(own, parentSeconds);
    }

    /// <summary>One layer's variants (or, combined, its pairings) in place and their sums, and the layer's block influence.</summary>
    sealed class LayerRun
    {
        readonly JobContext _context;
        readonly IReadOnlyList<ScoreCandidate> _variants;
        readonly ScoreBlocks _mode;
        readonly CandidateBlocks _blocks;
        readonly Dictionary<string, LmMetricsAccumulator> _sums;
        readonly CausalLM _parent;
        readonly System.Diagnostics.Stopwatch _clock = new();
        double _cosine, _seconds; // summed cosine of the layer's input and output; the variants' time
        long _positions;

        public LayerRun(JobContext context, ScoreJob job, ModelConfig config, CausalLM parent)
        {
            (_context, Layer, _parent, _mode) = (context, job.Layer, parent, job.Blocks);
            _variants = job.Variants;
            _blocks = new CandidateBlocks(config, parent.model.layers[Layer], _variants, part =>
                context.Job.Inputs.ContainsKey("variant:" + part.Id) ? Path.Combine(context.Input("variant:" + part.Id), DistillStage.WeightsFile) : null);
            _sums = _variants.ToDictionary(v => v.Id, _ => new LmMetricsAccumulator());
        }

        public int Layer { get; }

        public void Add(Tensor x, Tensor output, LmMetricsAccumulator.Teacher reference, Tensor targets, Tensor cos, Tensor sin, ComputeDevice device)
        {
            using var cosine = nn.functional.cosine_similarity(x.to(float32), output.to(float32), dim: -1);
            _cosine += cosine.to(float64).sum().item<double>();
            _positions += cosine.numel();
            _clock.Restart();
            _blocks.Forward(x, cos, sin, Layer, (id, h) =>
                _sums[id].Add(_parent.RunBlocks(h, Layer + 1, _parent.Config.NumLayers), _parent.Head, reference.Vocab, targets, reference));
            device.Synchronize();
            _seconds += _clock.Elapsed.TotalSeconds;
        }

        public void Write(LmMetrics own, double parentSeconds)
        {
            _blocks.Dispose();
            var scores = _variants.ToDictionary(v => v.Id, v =>
            {
                var m = _sums[v.Id].Result();
                return new VariantScore(m.Kl!.Value, m.Loss, m.Top1, m.Agreement!.Value);
            });
            RecordFile.Write(_context.Output(ScoresFile), new LayerScores(Layer, own.Tokens, _mode.ToString().ToLowerInvariant(),
                new ParentQuality(own.Loss, own.Top1), 1 - _cosine / Math.Max(1, _positions), scores));
            var metrics = _context.Metrics;
            metrics["tokens"] = own.Tokens;
            metrics["variants"] = _variants.Count;
            // the parent's forward pass and one variant's (the mean), both with their metrics: the replace-1-block cost
            metrics["parent_seconds"] = parentSeconds;
            metrics["variant_seconds"] = _variants.Count == 0 ? 0 : _seconds / _variants.Count;
            foreach (var v in _variants) _context.Log.WriteLine($"{v.Id}: KL {scores[v.Id].Kl:F4}");
        }
    }

    /// <summary>Each layer's block influence, from the Score jobs' documents (in layer order).</summary>
    public static double[] BlockInfluence(IEnumerable<LayerScores> scores) => scores.Select(s => s.BlockInfluence).ToArray();
}
