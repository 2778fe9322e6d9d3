using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Tasks;

/// <summary>
/// Plans pipelines and returns one item per job needed for each one's target stage, in the order they run: each with its
/// step (<see cref="JobSteps"/>: the jobs of a step run side by side), its torch threads and a stamp file holding its key.
/// A stamp is rewritten only when the key changes, so MSBuild's timestamp check on (stamp → done marker) reruns exactly
/// the jobs whose key changed.
/// </summary>
public sealed class PuzzleGraph : Microsoft.Build.Utilities.Task
{
    /// <summary>The pipeline specs, each with its target stage as <c>Stage</c> metadata (empty: every job).</summary>
    [Required] public ITaskItem[] Pipelines { get; set; } = [];
    [Required] public string Cli { get; set; } = "";
    [Required] public string StampDirectory { get; set; } = "";
    public string? Store { get; set; }
    /// <summary>Where the pipeline computes instead of the spec's <c>device</c> (<c>$(PuzzleDevice)</c>: cpu or cuda), as
    /// the CLI's and Cake's <c>--device</c>; empty: the spec's. It enters the keys, so every job is told it too.</summary>
    public string? Device { get; set; }
    /// <summary>Stages to run again although cached, with every job after them (<c>$(PuzzleRerun)</c>: comma- or
    /// semicolon-separated), as the CLI's and Cake's <c>--rerun</c>: their entries are removed before the plan
    /// (<c>puzzle forget</c>), so the jobs read as not built and their done markers go. Empty: none.</summary>
    public string? Rerun { get; set; }
    /// <summary>The threads of every job that is not single-threaded (<c>$(PuzzleThreadsPerJob)</c>); 0: the cores divided
    /// among the jobs that run at once.</summary>
    public int ThreadsPerJob { get; set; }
    /// <summary>How many jobs MSBuild runs at once (<c>$(MSBuildNodeCount)</c>: <c>-m</c>'s count).</summary>
    public int NodeCount { get; set; } = 1;
    public int Cores { get; set; } = Environment.ProcessorCount;
    /// <summary>The GPUs to hand out, as CUDA_VISIBLE_DEVICES names them, separated by commas or semicolons
    /// (<c>$(PuzzleGpus)</c>; quoted on the command line: <c>-p:PuzzleGpus="0,1"</c>); default:
    /// those this machine shows (CUDA_VISIBLE_DEVICES, else the driver's list).</summary>
    public string? Gpus { get; set; }
    /// <summary>Jobs on one GPU at a time (<c>$(PuzzleJobsPerGpu)</c>), as the spec's <c>executor.jobs_per_gpu</c> for a local run.</summary>
    public int JobsPerGpu { get; set; } = 1;
    public string Dotnet { get; set; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    [Output] public ITaskItem[] Jobs { get; private set; } = [];

    public override bool Execute()
    {
        if (JobsPerGpu < 1) { Log.LogError($"PuzzleJobsPerGpu must be at least 1; got {JobsPerGpu}"); return false; }
        if (!string.IsNullOrEmpty(Device) && Device is not ("cpu" or "cuda")) { Log.LogError($"PuzzleDevice must be cpu or cuda (or empty for the spec's device); got '{Device}'"); return false; }
        if (ThreadsPerJob < 0) { Log.LogError($"PuzzleThreadsPerJob must be at least 1, or 0 for the cores divided among the jobs; got {ThreadsPerJob}"); return false; }
        var items = new List<(ITaskItem Item, int Order)>();
        var jobs = new List<JobSteps.Job>();
        foreach (var pipeline in Pipelines)
        {
            // the CLI lists only the jobs the target needs, each with its wave and lead: nothing to work out here but the steps
            var spec = pipeline.GetMetadata("FullPath");
            GraphDocument graph;
            try
            {
                if (!string.IsNullOrWhiteSpace(Rerun))
                    Log.LogMessage(MessageImportance.High, "puzzle: " + PipelineGraphReader.Forget(Dotnet, Cli, spec, Store, pipeline.GetMetadata("Stage"), Device, Rerun!.Replace(';', ',')));
                graph = PipelineGraphReader.Read(Dotnet, Cli, spec, Store, pipeline.GetMetadata("Stage"), Device);
            }
            catch (Exception e) { LogPlanErrors(spec, e.Message); return false; }

            var listed = graph.InOrder().ToList();
            var firstReader = new Dictionary<string, int>();
            foreach (var (_, job) in listed)
                foreach (var input in job.Inputs.Values)
                    firstReader[input] = Math.Min(firstReader.GetValueOrDefault(input, int.MaxValue), job.Wave);
            foreach (var (stage, job) in listed)
            {
                var dir = Path.Combine(StampDirectory, graph.Pipeline, stage.Name);
                Directory.CreateDirectory(dir);
                var stamp = Path.Combine(dir, job.Id + ".key");
                var done = Path.Combine(dir, job.Id + ".done");
                if (!File.Exists(stamp) || File.ReadAllText(stamp).Trim() != job.Key) File.WriteAllText(stamp, job.Key + "\n");
                // a done marker says the job was built, not that this store still holds it (another --store, a gc, a
                // removed .puzzle/): a job the store lacks runs again
                else if (!job.Built && File.Exists(done)) File.Delete(done);
                var item = new TaskItem($"{stage.Name}/{job.Id}");
                item.SetMetadata("Pipeline", spec);
                item.SetMetadata("Stage", stage.Name);
                item.SetMetadata("JobId", job.Id);
                item.SetMetadata("Key", job.Key);
                item.SetMetadata("Stamp", stamp);
                item.SetMetadata("Done", done);
                items.Add((item, job.Order));
                var stale = !File.Exists(done) || File.GetLastWriteTimeUtc(stamp) > File.GetLastWriteTimeUtc(done); // as MSBuild judges it
                jobs.Add(new JobSteps.Job(job.Wave, job.Lead is not null, stage.SingleThreaded, stage.Exclusive, stale,
                    firstReader.TryGetValue($"{stage.Name}/{job.Id}", out var reader) ? reader : null, stage.Gpu, job.PlannedMemory, stage.DeviceMemory));
            }
            Log.LogMessage(MessageImportance.High, $"puzzle: {graph.Pipeline}: {listed.Count} jobs for {graph.Target ?? "all stages"}");
        }

        var gpus = string.IsNullOrWhiteSpace(Gpus) ? GpuSlots.VisibleIds()
            : Gpus!.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var steps = JobSteps.Of(jobs, Cores, NodeCount, ThreadsPerJob, gpus, JobsPerGpu);
        for (var i = 0; i < items.Count; i++)
        {
            if (steps[i].Alone)
                Log.LogMessage(MessageImportance.High, $"puzzle: {items[i].Item.ItemSpec} runs alone on {(jobs[i].Gpu ? "its GPU" : "this machine")}: " +
                    $"about {Gb(jobs[i].PlannedMemory!.Value)} planned, more than a job's share of {Gb(jobs[i].DeviceMemory!.Value)} " +
                    $"with {(jobs[i].Gpu ? JobsPerGpu : NodeCount)} at once");
            items[i].Item.SetMetadata("Step", steps[i].Step);
            items[i].Item.SetMetadata("Threads", steps[i].Threads.ToString());
            items[i].Item.SetMetadata("Gpu", steps[i].Gpu ?? "");
        }
        // target batching takes the steps in the order they first appear
        Jobs = Enumerable.Range(0, items.Count).OrderBy(i => steps[i].Step, StringComparer.Ordinal).ThenBy(i => items[i].Order)
            .Select(i => items[i].Item).ToArray();
        return true;
    }

    static string Gb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):F2} GiB");

    static readonly Regex AtPosition = new(@"^(?<file>.+?):(?<line>\d+):(?<column>\d+): error: (?<text>.*)$");

    /// <summary>The CLI's errors, each at the file, line and column it names (a spec's field), so the build points at the
    /// spec rather than at the targets that called this task; the other lines are one error about the spec as a whole.</summary>
    void LogPlanErrors(string spec, string errors)
    {
        var rest = new List<string>();
        foreach (var line in errors.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var m = AtPosition.Match(line);
            if (!m.Success) { rest.Add(line.StartsWith("error: ", StringComparison.Ordinal) ? line["error: ".Length..] : line); continue; }
            Log.LogError(null, null, null, m.Groups["file"].Value, int.Parse(m.Groups["line"].Value, CultureInfo.InvariantCulture),
                int.Parse(m.Groups["column"].Value, CultureInfo.InvariantCulture), 0, 0, m.Groups["text"].Value);
        }
        if (rest.Count > 0 || !Log.HasLoggedErrors)
            Log.LogError(null, null, null, spec, 0, 0, 0, 0, rest.Count > 0 ? string.Join("\n", rest) : "puzzle graph failed and said nothing");
    }
}
