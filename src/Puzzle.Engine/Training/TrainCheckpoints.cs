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
public sealed class TrainCheckpoints(string directory, int every)
{
    const string Current = "current", Previous = "previous", Next = "next";
    const string ParamsFile = "params.safetensors", OptimizerFile = "optimizer.safetensors", StateFile = "state.json", BestFile = "best.safetensors";

    public string Directory { get; } = Path.GetFullPath(directory);
    public int Every { get; } = every > 0 ? every : throw new ArgumentOutOfRangeException(nameof(every), every, "must be positive");

    /// <summary>The step of the newest complete checkpoint, or null when there is none.</summary>
    public long? LatestStep => Latest() is { } dir ? ReadState(dir).Step : null;

    /// <param name="best">a <see cref="HeldoutGuard"/>'s best weights so far, kept beside the parameters</param>
    public void Save(IReadOnlyList<(string Name, Parameter Param)> parameters, AdamW optimizer, TrainState state,
        IReadOnlyDictionary<string, Tensor>? best = null)
    {
        // not AtomicDirectory: its swap drops the old folder, while here `previous` stays readable (Latest) until the new
        // `current` is in place, so a kill between the renames resumes from the last checkpoint instead of from step 0.
        // One trainer owns the folder (the job's key lock), so `next` needs no per-writer name.
        System.IO.Directory.CreateDirectory(Directory);
        var next = Path.Combine(Directory, Next);
        if (System.IO.Directory.Exists(next)) System.IO.Directory.Delete(next, recursive: true);
        System.IO.Directory.CreateDirectory(next);
        SafeTensorsWriter.Write(Path.Combine(next, ParamsFile), parameters.ToDictionary(p => p.Name, p => (Tensor)p.Param));
        optimizer.Save(Path.Combine(next, OptimizerFile));
        if (best is not null) SafeTensorsWriter.Write(Path.Combine(next, BestFile), best);
        File.WriteAllText(Path.Combine(next, StateFile), JsonSerializer.Serialize(state, PuzzleJson.Options));
        var current = Path.Combine(Directory, Current);
        var previous = Path.Combine(Directory, Previous);
        if (System.IO.Directory.Exists(previous)) System.IO.Directory.Delete(previous, recursive: true);
        if (System.IO.Directory.Exists(current)) System.IO.Directory.Move(current, previous);
        System.IO.Directory.Move(next, current);
        if (System.IO.Directory.Exists(previous)) System.IO.Directory.Delete(previous, recursive: true);
    }

    /// <summary>Loads the newest complete checkpoint into the parameters and optimizer; null when there is none.</summary>
    public TrainState? TryLoad(IReadOnlyList<(string Name, Parameter Param)> parameters, AdamW optimizer)
    {
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
