using System.Diagnostics;
using Puzzle.Engine.Data;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// Blockwise local distillation of several variants at once, from the parent's stream: each batch of training text
/// goes through the parent once (up to the deepest variant's layer), and every variant trains on that batch, teacher
/// forced: it reads the parent's own input to its subblock and learns the parent subblock's contribution (loss =
/// normalized MSE; a linear subblock started by least squares is fitted in closed form instead, see <see cref="LinearFit"/>).
/// Variants are independent: each has its own optimiser, schedule, token budget and result, exactly
/// as if it were trained alone on the same batches. Held-out normalized MSE is measured at step 0 and every few
/// steps, and the best weights seen (the initialisation included) are what a variant publishes.
/// </summary>
public static class BlockDistiller
{
    /// <summary>Training sequences used to fit initialisers (channel contributions, least squares).</summary>
    const int CalibrationSequences = 32;
    /// <summary>Held-out sequences on which normalized MSE is measured.</summary>
    public const int CheckSequences = 16;
    /// <summary>Held-out evaluations per run, besides step 0 (<see cref="HeldoutGuard"/>).</summary>
    const int Evaluations = 8;

    /// <param name="parent">the parent's stream, at least up to the deepest variant's layer</param>
    /// <param name="train">where training batches come from (shuffled per epoch by the BLD seed)</param>
    /// <param name="check">held-out sequences; the first <see cref="CheckSequences"/> measure normalized MSE</param>
    public static IReadOnlyList<BldResult> Distill(ParentStream parent, IReadOnlyList<BldJob> jobs, TokenDataset train,
        TokenDataset check, TextWriter log, ComputeDevice device)
    {
        if (jobs.Count == 0) return [];
        var (batch, seed) = (jobs[0].Options.Batch, jobs[0].Options.Seed);
        if (jobs.Any(j => j.Options.Batch != batch || j.Options.Seed != seed))
            throw new ArgumentException("variants trained together must share bld.batch and bld.seed");
        var config = parent.Config;
        // a training split smaller than one batch gives batches of all its sequences: budgets and rates count those
        var rows = (int)Math.Min(batch, train.Count);
        if (rows < batch)
            log.WriteLine($"bld: the training split has {train.Count:N0} sequences, fewer than bld.batch {batch}: batches of {rows}");
        var top = jobs.Max(j => j.Variant.Layer) + 1;
        var (cos, sin) = parent.Rotary(train.SeqLen);
        var calibration = train.EpochOrder((ulong)seed, 0).Take(CalibrationSequences).ToArray();
        var layers = jobs.Select(j => j.Variant.Layer).ToHashSet();
        var times = new InitTimes(device);
        var checkStreams = Stream(parent, check, check.Leading(CheckSequences, batch), top, layers);
        var trainees = new List<Trainee>();
        using (no_grad())
        {
            // a layer's SwiGLU FFN variants prune by the channel contribution of the parent's FFN over the calibration
            // text: summed from the channels the parent's pass computes, once per layer
            var sums = jobs.Where(j => j.Variant.Subblock != Subblock.Attention && j.Variant.Ffn?.Kind == FfnKind.SwiGlu)
                .Select(j => j.Variant.Layer).Distinct().ToDictionary(l => l, l => new ChannelContribution.Sum(parent.Layers[l]));
            var parts = Stream(parent, train, calibration.Chunk(batch), top, layers, sums);
            var calibrationStreams = layers.ToDictionary(l => l, l => Concat(parts.Select(p => p[l]).ToList()));
            foreach (var s in parts.SelectMany(s => s).OfType<LayerStream>()) Dispose(s);
            var contributions = sums.ToDictionary(p => p.Key, p => p.Value.Result().DetachFromDisposeScope());
            foreach (var s in sums.Values) s.Dispose();
            times.Streams = times.Lap();
            try
            {
                foreach (var job in jobs)
                    trainees.Add(Trainee.Start(config, parent.Layers[job.Variant.Layer], job, cos, sin, calibrationStreams[job.Variant.Layer],
                        () => contributions[job.Variant.Layer], checkStreams.Select(s => s[job.Variant.Layer]).ToList(),
                        train.SeqLen * (long)rows, times));
            }
            finally
            {
                foreach (var c in contributions.Values) c.Dispose();
                foreach (var s in calibrationStreams.Values) Dispose(s);
            }
        }
        log.WriteLine($"initialise: the parent over {calibration.Length * (long)train.SeqLen:N0} calibration and " +
                      $"{Math.Min(CheckSequences, check.Count) * (long)check.SeqLen:N0} held-out tokens {times.Streams:F1} s, " +
                      $"initialisers {times.Initialisers:F1} s, held-out checks {times.Checks:F1} s");

        var tokensPerBatch = (long)rows * train.SeqLen;
        // a closed-form fit has no learning rate to warm up; variants with the same settings share one line
        foreach (var same in jobs.Zip(trainees).Where(p => p.Second.Fit is null)
                     .Select(p => (p.First.Variant.Id, Warning: p.First.Options.Train.WarmupWarning(tokensPerBatch, "bld")))
                     .Where(p => p.Warning is not null).GroupBy(p => p.Warning!))
            log.WriteLine($"{Listed(same.Select(p => p.Id).ToList())}: {same.Key}");
        var longest = trainees.Max(t => t.Run.TotalSteps);
        var progress = new ProgressLine($"bld {jobs.Count} variant{(jobs.Count == 1 ? "" : "s")} of layers {jobs.Min(j => j.Variant.Layer)}-{top - 1}",
            longest * tokensPerBatch, log);
        var clock = Stopwatch.StartNew();
        using var batches = train.InfiniteBatches(rows, (ulong)seed).GetEnumerator();
        for (long step = 0; step < longest; step++)
        {
            using (var scope = NewDisposeScope())
            {
                batches.MoveNext();
                var active = trainees.Where(t => !t.Run.Finished).ToList();
                var streams = parent.Run(train.GetBatch(batches.Current), active.Max(t => t.Layer) + 1);
                foreach (var t in active)
                    using (NewDisposeScope())
                        t.Step(streams[t.Layer]);
            }
            var flush = (step + 1) % 10 == 0 || step + 1 == longest;
            foreach (var t in trainees.Where(t => t.Run.Step == step + 1))
            {
                if (flush || t.Run.Finished) Flush(t);
                if (t.Fit is not null && t.Guard.IsDue(t.Run)) t.Fit.Solve();
                t.Guard.AfterStep(t.Run);
            }
            if (flush) progress.Report((step + 1) * tokensPerBatch, trainees.Average(t => t.Run.Ema));
        }
        device.Synchronize();
        var seconds = clock.Elapsed.TotalSeconds;
        progress.Done(longest * tokensPerBatch, trainees.Average(t => t.Run.Ema));
        foreach (var s in checkStreams.SelectMany(s => s).OfType<LayerStream>()) Dispose(s);
        var results = trainees.Select(t => t.Finish(t.Run.Tokens / Math.Max(1e-9, seconds), seconds)).ToList();
        foreach (var t in trainees) t.Dispose();
        return results;
    }

    /// <summary>Reads a variant's losses since the last flush; a loss that diverged names the variant: every variant of the
    /// process fails with it, and each one's log must say whose training diverged.</summary>
    static void Flush(Trainee t)
    {
        try { t.Run.Flush(); }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"{t.Variant.Id}: {e.Message}", e);
        }
    }

    /// <summary>For each batch of sequences, the parent's streams at <paramref name="layers"/> (by layer; the others are
    /// null), outside any dispose scope: the caller disposes them.</summary>
    static List<IReadOnlyList<LayerStream>> Stream(ParentStream parent, TokenDataset data, IEnumerable<long[]> batches, int top,
        IReadOnlySet<int> layers, IReadOnlyDictionary<int, ChannelContribution.Sum>? channels = null)
    {
        var all = new List<IReadOnlyList<LayerStream>>();
        foreach (var b in batches)
        {
            using var scope = NewDisposeScope();
            var streams = parent.Run(data.GetBatch(b), top, channels);
            all.Add(streams.Select((s, l) => layers.Contains(l)
                ? new LayerStream(s.X.DetachFromDisposeScope(), s.Attention.DetachFromDisposeScope(), s.Ffn.DetachFromDisposeScope())
                : null!).ToList());
        }
        return all;
    }

    static LayerStream Concat(IReadOnlyList<LayerStream> parts) =>
        new(cat(parts.Select(p => p.X).ToArray()), cat(parts.Select(p => p.Attention).ToArray()), cat(parts.Select(p => p.Ffn).ToArray()));

    static void Dispose(LayerStream s)
    {
        s.X.Dispose();
        s.Attention.Dispose();
        s.Ffn.Dispose();
    }

    /// <summary>One variant in training: its block, its optimisation and its best held-out weights so far.</summary>
    sealed class Trainee : IDisposable
    {
        public required BlockVariant Variant { get; init; }
        public required DecoderBlock Child { get; init; }
        public required SubblockIO Io { get; init; }
        public required TrainingRun Run { get; init; }
        public required HeldoutGuard Guard { get; init; }
        public required Dictionary<string, double> InitNmse { get; init; }
        public required string Initialiser { get; init; }
        /// <summary>Set for a linear subblock started by least squares: it is fitted in closed form, not by gradient.</summary>
        public LinearFit? Fit { get; init; }
        public int Layer => Variant.Layer;

        /// <param name="contribution">the parent FFN's channel contribution at the variant's layer, over the calibration text</param>
        public static Trainee Start(ModelConfig config, DecoderBlock parent, BldJob job, Tensor cos, Tensor sin,
            LayerStream calibration, Func<Tensor> contribution, IReadOnlyList<LayerStream> check, long tokensPerBatch, InitTimes times)
        {
            var variant = job.Variant;
            var io = new SubblockIO(variant, cos, sin);
            // every applicable initialiser, measured on held-out text before any training
            var candidates = Candidates(config, parent, variant, calibration, contribution, job.Options.Init);
            times.Initialisers += times.Lap();
            var chosen = candidates.Count == 1 ? candidates.Keys.Single()
                : job.Options.Init == LinearInit.Paper ? InitCandidates.Paper : InitCandidates.LeastSquares;
            var initNmse = new Dictionary<string, double>();
            DecoderBlock? child = null;
            try
            {
                foreach (var (name, c) in candidates)
                {
                    var block = ChildBlock.Assemble(config, variant.AsBlock, parent, c.Attention, c.Ffn);
                    try { initNmse[name] = io.Nmse(block, check); }
                    finally { if (name == chosen) child = block; else block.Dispose(); }
                }
            }
            catch
            {
                child?.Dispose();
                throw;
            }
            finally
            {
                // assembling copied their weights
                foreach (var (attention, ffn) in candidates.Values)
                {
                    attention?.Dispose();
                    ffn?.Dispose();
                }
            }
            times.Checks += times.Lap();
            var parameters = child!.named_parameters().Select(p => (p.name, p.parameter)).ToList();
            var run = new TrainingRun(parameters, tokensPerBatch, job.Options.Train);
            var guard = new HeldoutGuard(() => io.Nmse(child, check), Evaluations);
            guard.Begin(run, parameters, initNmse[chosen]); // the chosen block was measured above
            var fit = chosen == InitCandidates.LeastSquares ? LinearFit.For(variant, child) : null;
            return new Trainee { Variant = variant, Child = child, Io = io, Run = run, Guard = guard, InitNmse = initNmse, Initialiser = chosen, Fit = fit };
        }

        /// <summary>One batch: a gradient step, or for a closed-form fit the batch's loss under the current weights
        /// (for the curve) and its rows added to the fit.</summary>
        public void Step(LayerStream s)
        {
            if (Fit is null)
            {
                Run.TakeStep(Io.Loss(Child, s));
                return;
            }
            using (no_grad()) Run.RecordStep(Io.Loss(Child, s));
            var (input, target) = Io.Of(s);
            Fit.Add(input, target);
        }

        public BldResult Finish(double tokensPerSecond, double seconds)
        {
            Guard.Finish(Run);
            var prefix = $"model.layers.{Variant.Layer}.";
            var weights = Child.named_parameters().ToDictionary(p => prefix + p.name, p => p.parameter.detach().clone());
            return new BldResult(weights, InitNmse, Initialiser, InitNmse[Initialiser], Guard.Best, Run.Curve.ToList(), tokensPerSecond,
                Guard.Points, Guard.BestStep, Guard.Last, seconds)
            { Training = Fit is null ? BldResult.Gradient : BldResult.LeastSquaresFit };
        }

        public void Dispose()
        {
            Fit?.Dispose();
            Guard.Dispose();
            Run.Dispose();
            Child.Dispose();
        }
    }

    /// <summary>Variants' ids for one log line: all of up to four, else how many, the first and the last.</summary>
    static string Listed(IReadOnlyList<string> ids) => ids.Count <= 4 ? string.Join(", ", ids) : $"{ids.Count} variants ({ids[0]} ... {ids[^1]})";

    /// <summary>
    /// Initialisations of the variant by name. Decoupled: each applicable initialiser of its one subblock. Coupled:
    /// one pairing, each subblock initialised by the configured initialiser (the parent's own subblock is copied).
    /// </summary>
    static Dictionary<string, (AttentionSubblock? Attention, nn.Module? Ffn)> Candidates(ModelConfig config, DecoderBlock parent,
        BlockVariant variant, LayerStream calibration, Func<Tensor> contribution, LinearInit init)
    {
        Tensor? Contribution(FfnConfig ffn) => ffn.Kind == FfnKind.SwiGlu ? contribution() : null;
        switch (variant.Subblock)
        {
            case Subblock.Attention:
                return InitCandidates.Attention(config, parent, variant.Attention!, calibration.X)
                    .ToDictionary(p => p.Key, p => ((AttentionSubblock?)p.Value, (nn.Module?)null));
            case Subblock.Ffn:
            {
                using var h = Runtime.Scalars.Add(calibration.X, calibration.Attention); // the parent's stream at its FFN
                return InitCandidates.Ffn(parent, variant.Ffn!, h, contribution: Contribution(variant.Ffn!))
                    .ToDictionary(p => p.Key, p => ((AttentionSubblock?)null, (nn.Module?)p.Value));
            }
            default:
            {
                var preferred = init == LinearInit.Paper ? InitCandidates.Paper : InitCandidates.LeastSquares;
                var attention = InitCandidates.Attention(config, parent, variant.Attention!, calibration.X);
                using var h = Runtime.Scalars.Add(calibration.X, calibration.Attention);
                var ffn = InitCandidates.Ffn(parent, variant.Ffn!, h, contribution: Contribution(variant.Ffn!));
                var a = attention.Count == 0 ? "none" : attention.ContainsKey(preferred) ? preferred : attention.Keys.Single();
                var f = ffn.Count == 0 ? "none" : ffn.ContainsKey(preferred) ? preferred : ffn.Keys.Single();
                foreach (var (name, m) in attention) if (name != a) m.Dispose();
                foreach (var (name, m) in ffn) if (name != f) m.Dispose();
                return new() { [$"attention:{a}+ffn:{f}"] = (attention.GetValueOrDefault(a), ffn.GetValueOrDefault(f)) };
            }
        }
    }

    /// <summary>Where a process's initialisation spends its time (seconds, the device synchronised at each lap).</summary>
    sealed class InitTimes(ComputeDevice device)
    {
        readonly Stopwatch _clock = Stopwatch.StartNew();
        public double Streams, Initialisers, Checks;

        /// <summary>Seconds since the last lap.</summary>
        public double Lap()
        {
            device.Synchronize();
            var seconds = _clock.Elapsed.TotalSeconds;
            _clock.Restart();
            return seconds;
        }
    }
}
