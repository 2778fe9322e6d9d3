using Puzzle.Engine.Heal;
using Puzzle.Engine.Model;
using Puzzle.Engine.Training;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Training;

/// <summary>
/// Models trained side by side on the same batches (<see cref="Trainer.RunTogether{T}"/>: what a Heal process does
/// with its group of models, one pass of the parent per batch for all) end bit for bit as each would alone.
/// </summary>
public class TrainTogetherTests
{
    static ModelConfig Config(int layers = 2) => ModelConfig.Llama(vocab: 50, hidden: 16, layers: layers, heads: 2, kvHeads: 1, intermediate: 32);

    static IEnumerable<Tensor> Batches()
    {
        var g = new Generator(7);
        while (true) yield return randint(0, 50, [4, 9], dtype: int64, generator: g);
    }

    static TrainOptions Options => new() { Tokens = 4 * 8 * 12, LearningRate = 3e-3, CurveEvery = 1 };

    static IEnumerable<(string, TorchSharp.Modules.Parameter)> Named(CausalLM m) => m.named_parameters().Select(p => (p.name, p.parameter));

    static void AssertSameWeights(CausalLM expected, CausalLM actual, string what)
    {
        foreach (var ((name, a), (_, b)) in expected.named_parameters().Zip(actual.named_parameters()))
            Assert.True(a.equal(b).all().item<bool>(), $"{what}: {name} differs");
    }

    /// <summary>Held-out KL of a child against the parent on a fixed batch: what a Heal job's guard measures.</summary>
    static HeldoutGuard Guard(CausalLM parent, CausalLM child)
    {
        var heldout = randint(0, 50, [2, 9], dtype: int64, generator: new Generator(11));
        return new HeldoutGuard(() =>
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var p = TorchSharp.torch.nn.functional.log_softmax(parent.Forward(heldout), -1);
            var q = TorchSharp.torch.nn.functional.log_softmax(child.Forward(heldout), -1);
            return (p.exp() * (p - q)).sum(-1).mean().item<float>();
        }, evaluations: 3);
    }

    [Fact]
    public void Children_healed_together_from_one_parent_pass_per_batch_end_as_each_healed_alone()
    {
        using var parent = CausalLM.Initialise(Config(), seed: 1);
        var seeds = new[] { 2, 3 };
        var alone = seeds.Select(s => CausalLM.Initialise(Config(), seed: s)).ToList();
        var curvesAlone = alone.Select(child =>
        {
            var objective = new GkdObjective(parent, child, 1, 1, 0.5);
            using var guard = Guard(parent, child);
            var curve = Trainer.Run(Named(child), Batches(), b => objective.Step(b).Total, 32, Options, guard: guard, lossBackpropagates: true);
            return (curve, guard.BestStep, guard.Points.Select(p => p.Loss).ToList());
        }).ToList();

        var together = seeds.Select(s => CausalLM.Initialise(Config(), seed: s)).ToList();
        var guards = together.Select(child => Guard(parent, child)).ToList();
        var passes = 0;
        var curves = Trainer.RunTogether(together.Select((child, i) =>
        {
            var objective = new GkdObjective(parent, child, 1, 1, 0.5);
            return new Learner<TeacherPass>(Named(child), t => objective.Step(t).Total, Guard: guards[i]);
        }).ToList(), Batches(), b => { passes++; return GkdObjective.Teach(parent, b); }, 32, Options, lossBackpropagates: true);

        Assert.Equal(12, passes); // one parent pass per batch, not one per child
        for (var i = 0; i < seeds.Length; i++)
        {
            Assert.Equal(curvesAlone[i].curve.Select(p => (p.Step, p.Loss)), curves[i].Select(p => (p.Step, p.Loss)));
            Assert.Equal(curvesAlone[i].BestStep, guards[i].BestStep);
            Assert.Equal(curvesAlone[i].Item3, guards[i].Points.Select(p => p.Loss));
            AssertSameWeights(alone[i], together[i], $"child {i}");
        }
        Assert.NotEqual(curves[0].Select(p => p.Loss), curves[1].Select(p => p.Loss)); // two models, not one trained twice
        foreach (var m in alone.Concat(together)) m.Dispose();
        foreach (var g in guards) g.Dispose();
    }

    [Fact]
    public void Models_stopped_at_different_checkpoints_resume_together_and_end_as_uninterrupted_runs()
    {
        using var dirA = new TempDir();
        using var dirB = new TempDir();
        var reference = new[] { 4, 5 }.Select(s => CausalLM.Initialise(Config(), seed: s)).ToList();
        var expected = reference.Select(m => Trainer.Run(Named(m), Batches(), m.Loss, 32, Options)).ToList();

        // each stopped alone, at its own checkpoint: step 8 and step 4
        var stops = new[] { (Dir: dirA.Path, Every: 4, At: 10), (Dir: dirB.Path, Every: 4, At: 6) };
        for (var i = 0; i < 2; i++)
        {
            using var m = CausalLM.Initialise(Config(), seed: 4 + i);
            var calls = 0;
            var at = stops[i].At;
            Tensor Crashing(Tensor b) => ++calls == at ? throw new IOException("killed") : m.Loss(b);
            Assert.Throws<IOException>(() => Trainer.Run(Named(m), Batches(), Crashing, 32, Options, checkpoints: new TrainCheckpoints(stops[i].Dir, stops[i].Every)));
        }
        Assert.Equal(8, new TrainCheckpoints(dirA.Path, 4).LatestStep);
        Assert.Equal(4, new TrainCheckpoints(dirB.Path, 4).LatestStep);

        var resumed = new[] { 4, 5 }.Select(s => CausalLM.Initialise(Config(), seed: s)).ToList(); // fresh processes' models
        var batchesUsed = 0;
        var curves = Trainer.RunTogether(resumed.Select((m, i) => new Learner<Tensor>(Named(m), m.Loss, Checkpoints: new TrainCheckpoints(stops[i].Dir, 4))).ToList(),
            Batches(), b => { batchesUsed++; return b; }, 32, Options);

        Assert.Equal(12 - 4, batchesUsed); // the batches from the earliest checkpoint on; the first four are skipped unread
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(expected[i].Select(p => (p.Step, p.Loss)), curves[i].Select(p => (p.Step, p.Loss)));
            AssertSameWeights(reference[i], resumed[i], $"model {i}");
        }
        foreach (var m in reference.Concat(resumed)) m.Dispose();
    }
}
