using Puzzle.Engine.Pipeline.Cache;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>Making a <see cref="GraphDocument"/> from a planned graph (the front ends compile only GraphDocument.cs).</summary>
public sealed partial record GraphDocument
{
    /// <param name="store">where built jobs are found: a job's <see cref="JobEntry.Lead"/> is among the jobs it lacks</param>
    /// <param name="target">a stage (any case), or null for every job</param>
    public static GraphDocument Of(PipelineGraph graph, CacheStore store, string? target)
    {
        // the executor's own list: it walks these jobs in this order, starting each once its inputs are built
        var jobs = graph.JobsFor(target);
        var order = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var job in jobs) order[job.Name] = order.Count;
        var waves = new Dictionary<string, int>(StringComparer.Ordinal);
        int Wave(JobPlan job) => waves.TryGetValue(job.Name, out var w) ? w
            : waves[job.Name] = job.Inputs.Values.Select(Wave).DefaultIfEmpty(-1).Max() + 1;

        var targetStage = target is null ? null : graph.StageNamed(target).Name;
        var stages = new List<StageEntry>();
        foreach (var stage in graph.Stages)
        {
            var needed = graph.Jobs[stage.Name].Where(j => order.ContainsKey(j.Name)).OrderBy(j => order[j.Name]).ToList();
            if (target is not null && needed.Count == 0 && stage.Name != targetStage) continue;
            // a job process builds the companions it finds unbuilt, their inputs built (so in its wave), among all the stage's jobs
            // and the stage plans the memory of each such process (its job and companions), as the executor asks it
            var leads = new Dictionary<JobPlan, string>();
            var planned = new Dictionary<JobPlan, long>();
            foreach (var wave in needed.Where(j => !Stage.Built(j, store)).GroupBy(Wave))
                foreach (var process in stage.Processes(wave.ToList(), graph.Spec, graph.Jobs[stage.Name]))
                {
                    foreach (var companion in process.Skip(1)) leads[companion] = process[0].Id;
                    if (stage.PlannedMemory(process, graph.Spec) is { } bytes) planned[process[0]] = bytes;
                }
            var device = stage.ComputesOn(graph.Spec);
            stages.Add(new StageEntry(stage.Name, stage.Description, stage.Upstream, stage.SingleThreaded, stage.Exclusive,
                device == Runtime.DeviceKind.Cuda,
                needed.Select(j => new JobEntry(j.Id, j.Key, order[j.Name], Wave(j),
                    j.Inputs.ToDictionary(i => i.Key, i => i.Value.Name, StringComparer.Ordinal), leads.GetValueOrDefault(j),
                    planned.TryGetValue(j, out var bytes) ? bytes : null, Stage.Built(j, store))).ToList(),
                planned.Count > 0 && device is { } kind ? PlanMemory.Budget(kind) : null));
        }
        return new GraphDocument(graph.Spec.Name, graph.Spec.SourcePath, store.Root, targetStage, stages);
    }
}
