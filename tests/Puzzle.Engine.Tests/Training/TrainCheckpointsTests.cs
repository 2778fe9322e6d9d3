using System.Text.RegularExpressions;
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
    /// <summary>A clock that moves only when a test moves it.</summary>
    sealed class FakeClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    static List<(string Name, TorchSharp.Modules.Parameter Param)> Named(CausalLM model) => model.named_parameters().Select(p => (p.name, p.parameter)).ToList();

    /// <summary>Trains <see cref="Model"/> for its 12 steps, step k taking <paramref name="minutes"/>[k - 1] on
    /// <paramref name="clock"/>; returns the step of the newest checkpoint as each step began, steps 1 to 12.</summary>
    static List<long?> LatestAtEachStep(TrainCheckpoints checkpoints, FakeClock clock, double[] minutes)
    {
        using var model = Model();
        var seen = new List<long?>();
        Tensor Loss(Tensor b)
        {
            clock.Now += TimeSpan.FromMinutes(minutes[seen.Count]);
            seen.Add(checkpoints.LatestStep);
            return model.Loss(b);
        }
        Trainer.Run(Named(model), Batches(), Loss, 32, Options, checkpoints: checkpoints);
        return seen;
    }

    [Fact]
    public void By_time_a_checkpoint_is_saved_at_the_first_step_an_interval_after_the_start_and_then_after_the_last_was_written()
    {
        using var dir = new TempDir();
        var clock = new FakeClock();
        // each write takes 5 minutes: the next interval starts when it is written
        var checkpoints = new TrainCheckpoints(dir.Path, every: null, interval: TimeSpan.FromMinutes(10), log: _ => { }, clock: clock,
            freeBytes: _ => { clock.Now += TimeSpan.FromMinutes(5); return long.MaxValue; });

        var seen = LatestAtEachStep(checkpoints, clock, [2, 2, 2, 2, 2, 2, 6, 1, 1, 1, 1, 1]);

        // steps 1 to 4 end before 10 minutes; step 5 ends at 10 (saved, written at 15); step 7 ends 8 minutes after that,
        // step 9 ten (saved, written at 30); the final step 12 is not saved however late it ends
        Assert.Equal([null, null, null, null, null, 5, 5, 5, 5, 9, 9, 9], seen);
        Assert.Equal(9, checkpoints.LatestStep);
    }

    [Fact]
    public void With_checkpoint_every_a_checkpoint_is_saved_every_so_many_steps_whatever_the_time()
    {
        using var dir = new TempDir();
        var clock = new FakeClock();
        var checkpoints = new TrainCheckpoints(dir.Path, every: 4, interval: TimeSpan.FromMinutes(10), log: _ => { }, clock: clock);

        var seen = LatestAtEachStep(checkpoints, clock, [.. Enumerable.Repeat(60.0, 12)]);

        Assert.Equal([null, null, null, null, 4, 4, 4, 4, 8, 8, 8, 8], seen);
    }

    [Fact]
    public void A_checkpoint_that_does_not_fit_the_drive_is_skipped_said_once_and_training_finishes()
    {
        using var dir = new TempDir();
        var lines = new List<string>();
        var drives = 0;
        // room for the first checkpoint, then 1,000 bytes for the second and third
        var checkpoints = new TrainCheckpoints(dir.Path, every: 3, log: lines.Add, freeBytes: _ => ++drives == 1 ? long.MaxValue : 1000);
        using var reference = Model();
        var expected = Trainer.Run(Named(reference), Batches(), reference.Loss, 32, Options);

        using var model = Model();
        var curve = Trainer.Run(Named(model), Batches(), model.Loss, 32, Options, checkpoints: checkpoints);

        Assert.Equal(expected.Select(p => (p.Step, p.Loss)), curve.Select(p => (p.Step, p.Loss)));
        Assert.Equal(3, drives); // steps 3, 6 and 9; not the final one
        Assert.Equal(3, checkpoints.LatestStep);
        Assert.Equal(["current"], Directory.GetDirectories(dir.Path).Select(Path.GetFileName));
        var line = Assert.Single(lines); // not again at step 9
        Assert.Contains("skipped the resumable checkpoint at step 6", line);
        Assert.Matches(new Regex(@"it needs 2\d\d\.\d MiB \(\d+\.\d KiB and room for other writes\), and the drive of .* has 1000 B free"), line);
        Assert.Contains("resumes from step 3, its last checkpoint", line);
    }

    [Fact]
    public void A_drive_too_full_for_the_first_checkpoint_leaves_no_checkpoint_and_says_a_kill_resumes_from_the_start()
    {
        using var dir = new TempDir();
        var lines = new List<string>();
        var checkpoints = new TrainCheckpoints(dir.Path, every: 4, log: lines.Add, freeBytes: _ => 1000);
        using var model = Model();

        Trainer.Run(Named(model), Batches(), model.Loss, 32, Options, checkpoints: checkpoints);

        Assert.Null(checkpoints.LatestStep);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
        Assert.Contains("resumes from the start", Assert.Single(lines));
    }

    [Fact]
    public void A_checkpoint_whose_writing_fails_is_removed_training_finishes_and_the_previous_one_still_resumes()
    {
        using var dir = new TempDir();
        var lines = new List<string>();
        var writes = 0;
        var checkpoints = new TrainCheckpoints(dir.Path, every: 4, log: lines.Add)
        {
            // the second checkpoint (step 8) fills the drive halfway through its parameters
            WriteFiles = (next, write) =>
            {
                if (++writes != 2) write();
                else
                {
                    File.WriteAllBytes(Path.Combine(next, "params.safetensors"), new byte[100]);
                    throw new IOException("No space left on device");
                }
            },
        };
        using var reference = Model();
        var expected = Trainer.Run(Named(reference), Batches(), reference.Loss, 32, Options);

        using var model = Model();
        var curve = Trainer.Run(Named(model), Batches(), model.Loss, 32, Options, checkpoints: checkpoints);

        Assert.Equal(expected.Select(p => (p.Step, p.Loss)), curve.Select(p => (p.Step, p.Loss)));
        Assert.Equal(2, writes);
        Assert.Equal(["current"], Directory.GetDirectories(dir.Path).Select(Path.GetFileName));
        var line = Assert.Single(lines);
        Assert.Contains("the resumable checkpoint at step 8 failed (No space left on device) and removed what it had written", line);
        Assert.Matches(new Regex(@"it needs .* \(.* and room for other writes\), and the drive of .* has .* free"), line);
        Assert.Contains("resumes from step 4, its last checkpoint", line);

        // a killed run's next process resumes from step 4 and ends as an uninterrupted run does
        using var resumed = Model();
        var again = Trainer.Run(Named(resumed), Batches(), resumed.Loss, 32, Options, checkpoints: new TrainCheckpoints(dir.Path, every: 4));
        Assert.Equal(expected.Select(p => (p.Step, p.Loss)), again.Select(p => (p.Step, p.Loss)));
        foreach (var ((name, a), (_, b)) in reference.named_parameters().Zip(resumed.named_parameters()))
            Assert.True(a.equal(b).all().item<bool>(), $"{name} differs after resuming");
    }

    [Fact]
    public void What_a_checkpoint_is_counted_to_take_is_what_its_files_take()
    {
        using var dir = new TempDir();
        using var model = Model();
        var named = Named(model);
        using var optimizer = new AdamW([new AdamW.Group(named, 0.1)], 1e-3, 0.9, 0.999);
        var tensors = named.ToDictionary(p => p.Name, p => (Tensor)p.Param);

        optimizer.Save(dir["optimizer.safetensors"]);
        SafeTensorsWriter.Write(dir["params.safetensors"], tensors);

        Assert.Equal(new FileInfo(dir["optimizer.safetensors"]).Length, optimizer.SavedBytes);
        Assert.Equal(new FileInfo(dir["params.safetensors"]).Length, SafeTensorsWriter.FileBytes(tensors.Select(t => (t.Key, t.Value.shape))));
    }
}
