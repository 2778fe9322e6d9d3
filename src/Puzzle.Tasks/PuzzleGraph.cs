using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Puzzle.Tasks;

/// <summary>
/// Plans a pipeline and returns one item per job needed for <see cref="Target"/>, with its wave (stage depth) and
/// a stamp file holding its key. A stamp is rewritten only when the key changes, so MSBuild's timestamp check on
/// (stamp → done marker) reruns exactly the jobs whose key changed.
/// </summary>
public sealed class PuzzleGraph : Microsoft.Build.Utilities.Task
{
    [Required] public string Pipeline { get; set; } = "";
    [Required] public string Cli { get; set; } = "";
    [Required] public string StampDirectory { get; set; } = "";
    public string? Target { get; set; }
    public string? Store { get; set; }
    public string Dotnet { get; set; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    [Output] public ITaskItem[] Jobs { get; private set; } = [];

    public override bool Execute()
    {
        PipelineGraphReader.Graph graph;
        try { graph = PipelineGraphReader.Read(Dotnet, Cli, Pipeline, Store); }
        catch (Exception e) { Log.LogError($"{Pipeline}: {e.Message}"); return false; }
        var byName = graph.Stages.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
        if (!string.IsNullOrEmpty(Target) && !byName.ContainsKey(Target!))
        {
            Log.LogError($"{Pipeline}: unknown stage '{Target}'; stages: {string.Join(", ", graph.Stages.Select(s => s.Name))}");
            return false;
        }
        var waves = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        int Wave(string stage) => waves.TryGetValue(stage, out var w) ? w
            : waves[stage] = byName[stage].Upstream.Select(Wave).DefaultIfEmpty(-1).Max() + 1;
        var needed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        void Need(string stage) { if (needed.Add(stage)) foreach (var u in byName[stage].Upstream) Need(u); }
        if (string.IsNullOrEmpty(Target)) foreach (var s in graph.Stages) Need(s.Name); else Need(Target!);

        var items = new List<ITaskItem>();
        foreach (var stage in graph.Stages.Where(s => needed.Contains(s.Name)).OrderBy(s => Wave(s.Name)))
            foreach (var job in stage.Jobs)
            {
                var dir = Path.Combine(StampDirectory, graph.Pipeline, stage.Name);
                Directory.CreateDirectory(dir);
                var stamp = Path.Combine(dir, job.Id + ".key");
                if (!File.Exists(stamp) || File.ReadAllText(stamp).Trim() != job.Key) File.WriteAllText(stamp, job.Key + "\n");
                var item = new TaskItem($"{stage.Name}/{job.Id}");
                item.SetMetadata("Stage", stage.Name);
                item.SetMetadata("JobId", job.Id);
                item.SetMetadata("Key", job.Key);
                item.SetMetadata("Wave", Wave(stage.Name).ToString("D3"));
                item.SetMetadata("Stamp", stamp);
                item.SetMetadata("Done", Path.Combine(dir, job.Id + ".done"));
                items.Add(item);
            }
        Jobs = items.ToArray();
        Log.LogMessage(MessageImportance.High, $"puzzle: {graph.Pipeline}: {items.Count} jobs for {(string.IsNullOrEmpty(Target) ? "all stages" : Target)}");
        return true;
    }
}
