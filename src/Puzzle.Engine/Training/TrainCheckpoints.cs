using System.Text;
using System.Text.Json;
using Puzzle.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Training;

/// <summary>Where a training run is: the step it finished, the smoothed loss and the curve so far.</summary>
public sealed record TrainState(long Step, double Ema, IReadOnlyList<CurvePoint> Curve, GuardState? Guard = null);

/// <summary>
/// Resumable training state in a folder: the parameters (safetensors), the optimizer's moments and the
/// <see cref="TrainState"/>. Each save is written beside the last one and swapped in by renames, so a process killed
/// at any moment leaves the previous or the new checkpoint, never half of one.
/// </summary>
/// <remarks>
/// A checkpoint is there only to save work after a kill, so it never fails the training it saves. It takes 16 bytes
/// per trained parameter (parameters, both AdamW moments and the held-out guard's best weights, as float32): the 1B
/// shape's 990M-parameter child 16 GB, written beside the last one before the swap, and a Heal job of two models on a
/// 64 GiB disk beside another such job filled it at a checkpoint and failed. A checkpoint that would not fit in the
/// drive's free space is skipped, and one whose writing fails anyway (another job filled the drive meanwhile) is
/// removed; the log says so with the step a kill would resume from, and training goes on from the same state.
/// </remarks>
public sealed class TrainCheckpoints
{
    const string Current = "current", Previous = "previous", Next = "next";
    const string ParamsFile = "params.safetensors", OptimizerFile = "optimizer.safetensors", StateFile = "state.json", BestFile = "best.safetensors";

    /// <summary>Room a checkpoint leaves on its drive beyond its own bytes, for what else is written meanwhile: the job's
    /// log, a CPU model's offloaded best weights, the published model, and other jobs' writes to the same drive.</summary>
    static long Margin(long checkpointBytes) => (256L << 20) + checkpointBytes / 20;

    readonly Action<string> _log;
    readonly TimeProvider _clock;
    readonly Func<string, long> _freeBytes;
    DateTimeOffset _since;
    bool _toldSinceLastSave;

    /// <param name="directory">the folder of the checkpoints (a job's resume folder)</param>
    /// <param name="every">save every this many steps; null: by time, every <paramref name="interval"/></param>
    /// <param name="interval">without <paramref name="every"/>: save at the first step that ends this long after
    /// training started or resumed (<see cref="TryLoad"/>), or after the last checkpoint was written (or skipped)</param>
    /// <param name="log">where a skipped or failed checkpoint is said (default: standard error)</param>
    /// <param name="clock">the time an interval is measured in (tests: a fake clock)</param>
    /// <param name="freeBytes">the bytes free to this process on the drive of a folder (tests: a fake drive)</param>
    public TrainCheckpoints(string directory, int? every, TimeSpan? interval = null, Action<string>? log = null, TimeProvider? clock = null,
        Func<string, long>? freeBytes = null)
    {
        Directory = Path.GetFullPath(directory);
        if (every is <= 0) throw new ArgumentOutOfRangeException(nameof(every), every, "must be positive");
        if (every is null && interval is not { Ticks: > 0 })
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "must be positive where no step interval is given");
        (Every, Interval) = (every, every is null ? interval : null);
        _log = log ?? Console.Error.WriteLine;
        _clock = clock ?? TimeProvider.System;
        _freeBytes = freeBytes ?? (dir => new DriveInfo(dir).AvailableFreeSpace);
        _since = _clock.GetUtcNow();
    }

    /// <summary>
    /// A schedule from a spec's <c>checkpoint_every</c> (steps, when set) and <c>checkpoint_minutes</c> (otherwise).
    /// </summary>
    public static TrainCheckpoints FromSpec(string directory, int? every, double minutes, Action<string> log) =>
        new(directory, every, every is null ? TimeSpan.FromMinutes(minutes) : null, log);

    public string Directory { get; }

    /// <summary>Steps between checkpoints; null where they are saved by time (<see cref="Interval"/>).</summary>
    public int? Every { get; }

    /// <summary>Time between checkpoints, where <see cref="Every"/> is not given.</summary>
    public TimeSpan? Interval { get; }

    /// <summary>The files of a checkpoint are written into its folder by this (tests: a writer that fails as a full
    /// disk does).</summary>
    internal Action<string, Action> WriteFiles { get; init; } = (_, write) => write();

    /// <summary>The step of the newest complete checkpoint, or null when there is none.</summary>
    public long? LatestStep => Latest() is { } dir ? ReadState(dir).Step : null;

    /// <summary>Whether to save after <paramref name="step"/> (the caller saves no run's final step, after which
    /// nothing is left to resume): every <see cref="Every"/> steps, or once <see cref="Interval"/> has passed.</summary>
    public bool IsDue(long step) => Every is { } every ? step % every == 0 : _clock.GetUtcNow() - _since >= Interval;

    /// <summary>
    /// Writes a checkpoint where its drive has room for it, and swaps it in; true where it did. Where it does not fit,
    /// or writing it fails with an <see cref="IOException"/>, nothing of it is left, the last checkpoint stays the one
    /// a kill resumes from, and the log says so (once until a checkpoint is written again).
    /// </summary>
    /// <param name="best">a <see cref="HeldoutGuard"/>'s best weights so far, kept beside the parameters</param>
    public bool Save(IReadOnlyList<(string Name, Parameter Param)> parameters, AdamW optimizer, TrainState state,
        IReadOnlyDictionary<string, Tensor>? best = null)
    {
        try
        {
            return TrySave(parameters, optimizer, state, best);
        }
        finally
        {
            _since = _clock.GetUtcNow(); // written, skipped or failed: the next try is an interval on, not at every step
        }
    }

    bool TrySave(IReadOnlyList<(string Name, Parameter Param)> parameters, AdamW optimizer, TrainState state, IReadOnlyDictionary<string, Tensor>? best)
    {
        // not AtomicDirectory: its swap drops the old folder, while here `previous` stays readable (Latest) until the new
        // `current` is in place, so a kill between the renames resumes from the last checkpoint instead of from step 0.
        // One trainer owns the folder (the job's key lock), so `next` needs no per-writer name.
        var json = JsonSerializer.Serialize(state, PuzzleJson.Options);
        var tensors = parameters.ToDictionary(p => p.Name, p => (Tensor)p.Param);
        var bytes = SafeTensorsWriter.FileBytes(tensors.Select(t => (t.Key, t.Value.shape))) + optimizer.SavedBytes
                    + (best is null ? 0 : SafeTensorsWriter.FileBytes(best.Select(t => (t.Key, t.Value.shape)))) + Encoding.UTF8.GetByteCount(json);
        var needed = bytes + Margin(bytes);
        var next = Path.Combine(Directory, Next);
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            if (System.IO.Directory.Exists(next)) System.IO.Directory.Delete(next, recursive: true); // a killed save's: its bytes are free below
            if (FreeBytes() is { } free && free < needed)
            {
                Tell($"skipped the resumable checkpoint at step {state.Step}: it needs {ByteSize.Human(needed)} " +
                     $"({ByteSize.Human(bytes)} and room for other writes), and the drive of {Directory} has {ByteSize.Human(free)} free");
                return false;
            }
            System.IO.Directory.CreateDirectory(next);
            WriteFiles(next, () =>
            {
                SafeTensorsWriter.Write(Path.Combine(next, ParamsFile), tensors);
                optimizer.Save(Path.Combine(next, OptimizerFile));
                if (best is not null) SafeTensorsWriter.Write(Path.Combine(next, BestFile), best);
                File.WriteAllText(Path.Combine(next, StateFile), json);
            });
        }
        catch (IOException e)
        {
            string removed;
            try
            {
                if (System.IO.Directory.Exists(next)) System.IO.Directory.Delete(next, recursive: true);
                removed = "removed what it had written";
            }
            catch (Exception again) when (again is IOException or UnauthorizedAccessException)
            {
                removed = $"could not remove {next} ({again.Message}; the next checkpoint removes it)";
            }
            Tell($"the resumable checkpoint at step {state.Step} failed ({e.Message}) and {removed}: it needs {ByteSize.Human(needed)} " +
                 $"({ByteSize.Human(bytes)} and room for other writes), and the drive of {Directory} has " + (FreeBytes() is { } left ? $"{ByteSize.Human(left)} free" : "free space unknown"));
            return false;
        }
        var current = Path.Combine(Directory, Current);
        var previous = Path.Combine(Directory, Previous);
        if (System.IO.Directory.Exists(previous)) System.IO.Directory.Delete(previous, recursive: true);
        if (System.IO.Directory.Exists(current)) System.IO.Directory.Move(current, previous);
        System.IO.Directory.Move(next, current);
        if (System.IO.Directory.Exists(previous)) System.IO.Directory.Delete(previous, recursive: true);
        _toldSinceLastSave = false;
        return true;
    }

    /// <summary>The drive's free bytes, or null where the system does not say (the write then finds out).</summary>
    long? FreeBytes()
    {
        try { return _freeBytes(Directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return null; }
    }

    /// <summary>Says why a checkpoint was not written, and what a kill would lose; once until one is written again, so a
    /// drive that stays full is not said at every checkpoint.</summary>
    void Tell(string why)
    {
        if (_toldSinceLastSave) return;
        _toldSinceLastSave = true;
        _log($"{why}. Training goes on; a job killed now resumes from " +
             (LatestStep is { } step ? $"step {step}, its last checkpoint" : "the start, as no checkpoint has been written") +
             " (not said again for the checkpoints after this one until one is written)");
    }

    /// <summary>Loads the newest complete checkpoint into the parameters and optimizer; null when there is none.</summary>
    /// <remarks>Training starts (or resumes) here: a checkpoint by time is due an <see cref="Interval"/> from now.</remarks>
    public TrainState? TryLoad(IReadOnlyList<(string Name, Parameter Param)> parameters, AdamW optimizer)
    {
        _since = _clock.GetUtcNow();
        if (Latest() is not { } dir) return null;
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, ParamsFile)))
        using (no_grad())
            foreach (var (name, p) in parameters)
            {
                if (!file.Contains(name)) throw new InvalidDataException($"{dir}: the checkpoint has no parameter '{name}'");
                using var t = file.Read(name);
                if (!t.shape.SequenceEqual(p.shape))
                    throw new InvalidDataException($"{dir}: '{name}' is [{string.Join(", ", t.shape)}], the model's [{string.Join(", ", p.shape)}]");
                p.copy_(t);
            }
        if (!File.Exists(Path.Combine(dir, OptimizerFile)))
            throw new InvalidDataException($"{dir}: no {OptimizerFile} (a checkpoint from before the optimizer's own format, which kept " +
                $"TorchSharp's optimizer.bin): delete {Directory} to start the run again");
        optimizer.Load(Path.Combine(dir, OptimizerFile));
        return ReadState(dir);
    }

    /// <summary>The best weights the newest checkpoint kept (<see cref="Save"/>'s <c>best</c>), on the CPU; null when none.</summary>
    public Dictionary<string, Tensor>? LoadBest()
    {
        if (Latest() is not { } dir || !File.Exists(Path.Combine(dir, BestFile))) return null;
        using var file = SafeTensorsFile.Open(Path.Combine(dir, BestFile));
        return file.Names.ToDictionary(n => n, n => file.Read(n));
    }

    /// <summary>Removes every checkpoint (after the trained result is published).</summary>
    public void Clear()
    {
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
    }

    string? Latest()
    {
        foreach (var name in new[] { Current, Previous })
        {
            var dir = Path.Combine(Directory, name);
            if (File.Exists(Path.Combine(dir, StateFile))) return dir;
        }
        return null;
    }

    static TrainState ReadState(string dir) =>
        JsonSerializer.Deserialize<TrainState>(File.ReadAllText(Path.Combine(dir, StateFile)), PuzzleJson.Options)
        ?? throw new InvalidDataException($"{dir}: empty {StateFile}");
}
