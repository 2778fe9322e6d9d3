using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>The members of <see cref="RunSummary"/> that need the Engine (the front ends compile only RunSummary.cs).</summary>
public sealed partial record RunSummary
{
    /// <summary>A run's length as people read it: "0.4 s" under a minute, h:mm:ss above.</summary>
    public static string Duration(double seconds) => RunProgress.Duration(TimeSpan.FromSeconds(seconds));

    /// <summary>The newest <paramref name="most"/> records <see cref="Save"/> wrote for <paramref name="pipeline"/>, newest
    /// first; one that cannot be read (another run writing it, an older format) is passed over.</summary>
    public static IReadOnlyList<RunSummary> Earlier(string storeRoot, string pipeline, int most = 20)
    {
        var dir = Path.Combine(storeRoot, "runs", pipeline);
        if (!Directory.Exists(dir)) return [];
        var runs = new List<RunSummary>();
        foreach (var path in Directory.EnumerateFiles(dir, "*.json").Where(p => Path.GetFileName(p) != "last.json")
                     .OrderDescending(StringComparer.Ordinal).Take(most))
        {
            try { runs.Add(Parse(File.ReadAllText(path), path)); }
            catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException) { }
        }
        return runs;
    }

    /// <summary>Writes the record under <c>STORE/runs/PIPELINE/</c> for the store's own history and its tests.</summary>
    public string Save(string storeRoot)
    {
        var dir = Path.Combine(storeRoot, "runs", Pipeline);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{StartedUtc:yyyyMMdd-HHmmss-fff}-{Environment.ProcessId}.json");
        var json = ToJson();
        AtomicFile.WriteAllText(path, json);
        // concurrent runs each rename their own complete copy over last.json: the last one wins, none fails
        AtomicFile.WriteAllText(Path.Combine(dir, "last.json"), json);
        return path;
    }
}
