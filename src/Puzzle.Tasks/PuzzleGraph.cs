using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Tasks;

/// <summary>
/// Plans a pipeline and returns one item per job needed for <see cref="Target"/>, with its wave (the depth of its inputs),
/// its lead (the job whose process builds it too, if any), its torch threads (<see cref="WaveThreads"/>) and a stamp file
/// holding its key. A stamp is rewritten only when the key changes, so MSBuild's timestamp check on (stamp → done marker)
/// reruns exactly the jobs whose key changed.
/// </summary>
public sealed class PuzzleGraph : Microsoft.Build.Utilities.Task
{
    [Required] public string Pipeline { get; set; } = "";
    [Required] public string Cli { get; set; } = "";
    [Required] public string StampDirectory { get; set; } = "";
    public string? Target { get; set; }
    public string? Store { get; set; }
    /// <summary>The threads of every job that is not single-threaded (<c>$(PuzzleThreadsPerJob)</c>); 0: the cores divided
    /// among the jobs that run at once.</summary>
    public int ThreadsPerJob { get; set; }
    /// <summary>How many jobs MSBuild runs at once (<c>$(MSBuildNodeCount)</c>: <c>-m</c>'s count).</summary>
    public int NodeCount { get; set; } = 1;
    public int Cores { get; set; } = Environment.ProcessorCount;
    public string Dotnet { get; set; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    [Output] public ITaskItem[] Jobs { get; private set; } = [];

    public override bool Execute()
    {
        // the CLI lists only the jobs the target needs, each with its wave (the depth of its inputs): nothing to work out here
        GraphDocument graph;
        try { graph = PipelineGraphReader.Read(Dotnet, Cli, Pipeline, Store, Target); }
        catch (Exception e) { Log.LogError($"{Pipeline}: {e.Message}"); return false; }

        var items = new List<ITaskItem>();
        var runs = new List<WaveThreads.Job>();
        foreach (var (stage, job) in graph.InOrder().OrderBy(p => p.Job.Wave).ThenBy(p => p.Job.Order))
        {
            var dir = Path.Combine(StampDirectory, graph.Pipeline, stage.Name);
            Directory.CreateDirectory(dir);
            var stamp = Path.Combine(dir, job.Id + ".key");
            if (!File.Exists(stamp) || File.ReadAllText(stamp).Trim() != job.Key) File.WriteAllText(stamp, job.Key + "\n");
            var item = new TaskItem($"{stage.Name}/{job.Id}");
            item.SetMetadata("Stage", stage.Name);
            item.SetMetadata("JobId", job.Id);
            item.SetMetadata("Key", job.Key);
            item.SetMetadata("Wave", job.Wave.ToString("D3"));
            item.SetMetadata("Stamp", stamp);
            var done = Path.Combine(dir, job.Id + ".done");
            item.SetMetadata("Done", done);
            item.SetMetadata("Lead", job.Lead ?? "");
            items.Add(item);
            var stale = !File.Exists(done) || File.GetLastWriteTimeUtc(stamp) > File.GetLastWriteTimeUtc(done); // as MSBuild judges it
            runs.Add(new WaveThreads.Job(job.Wave, job.Lead is not null, stage.SingleThreaded, stale));
        }
        var threads = WaveThreads.Of(runs, Cores, NodeCount, ThreadsPerJob);
        for (var i = 0; i < items.Count; i++) items[i].SetMetadata("Threads", threads[i].ToString());
        Jobs = items.ToArray();
        Log.LogMessage(MessageImportance.High, $"puzzle: {graph.Pipeline}: {items.Count} jobs for {graph.Target ?? "all stages"}");
        return true;
    }
}
