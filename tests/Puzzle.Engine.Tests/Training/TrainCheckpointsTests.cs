using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Training;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Training;

public class TrainCheckpointsTests
{
    static CausalLM Model() => CausalLM.Initialise(ModelConfig.Llama(vocab: 50, hidden: 16, layers: 2, heads: 2, kvHeads: 1, intermediate: 32), seed: 3);

    static IEnumerable<Tensor> Batches()
    {
        var g = new Generator(7);
        while (true) yield return randint(0, 50, [4, 9], dtype: int64, generator: g);
    }

    static TrainOptions Options => new() { Tokens = 4 * 8 * 12, LearningRate = 3e-3, CurveEvery = 1 };

    [Fact]
    public void A_run_stopped_after_a_checkpoint_resumes_and_continues_the_same_curve_bit_for_bit()
    {
        using var dir = new TempDir();
        using var reference = Model();
        var expected = Trainer.Run(reference.named_parameters().Select(p => (p.name, p.parameter)), Batches(), reference.Loss, 32, Options);

        using var interrupted = Model();
        var checkpoints = new TrainCheckpoints(dir.Path, every: 4);
        var calls = 0;
        Tensor Crashing(Tensor b) => ++calls == 10 ? throw new IOException("killed") : interrupted.Loss(b);
        Assert.Throws<IOException>(() =>
            Trainer.Run(interrupted.named_parameters().Select(p => (p.name, p.parameter)), Batches(), Crashing, 32, Options, checkpoints: checkpoints));
        Assert.Equal(8, checkpoints.LatestStep);

        using var resumed = Model(); // a fresh process: initial weights, no optimizer state
        var curve = Trainer.Run(resumed.named_parameters().Select(p => (p.name, p.parameter)), Batches(), resumed.Loss, 32, Options, checkpoints: checkpoints);
        Assert.Equal(expected.Select(p => (p.Step, p.Loss)), curve.Select(p => (p.Step, p.Loss)));
        foreach (var ((name, a), (_, b)) in reference.named_parameters().Zip(resumed.named_parameters()))
            Assert.True(a.equal(b).all().item<bool>(), $"{name} differs after resuming");
    }

    [Fact]
    public void A_checkpoint_of_another_model_is_rejected_by_name()
    {
        using var dir = new TempDir();
        using var model = Model();
        var checkpoints = new TrainCheckpoints(dir.Path, every: 1);
        var named = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new AdamW([new AdamW.Group(named, 0)], 1e-3, 0.9, 0.999);
        checkpoints.Save(named, optimizer, new TrainState(1, 0.5, []));
        var renamed = named.Select(p => ("other." + p.name, p.parameter)).ToList();
        var error = Assert.Throws<InvalidDataException>(() => checkpoints.TryLoad(renamed, optimizer));
        Assert.Contains("no parameter 'other.", error.Message);
    }

    [Fact]
    public void What_a_checkpoint_is_counted_to_take_is_what_its_files_take()
    {
        using var dir = new TempDir();
        using var model = Model();
        var named = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new AdamW([new AdamW.Group(named, 0.1)], 1e-3, 0.9, 0.999);
        var tensors = named.ToDictionary(p => p.name, p => (Tensor)p.parameter);

        optimizer.Save(dir["optimizer.safetensors"]);
        SafeTensorsWriter.Write(dir["params.safetensors"], tensors);

        Assert.Equal(new FileInfo(dir["optimizer.safetensors"]).Length, optimizer.SavedBytes);
        Assert.Equal(new FileInfo(dir["params.safetensors"]).Length, SafeTensorsWriter.FileBytes(tensors.Select(t => (t.Key, t.Value.shape))));
    }
}
