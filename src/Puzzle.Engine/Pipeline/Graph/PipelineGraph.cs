using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>Every job of a pipeline, planned from its spec before anything runs, with its key.</summary>
public sealed class PipelineGraph
{
    PipelineGraph(PipelineSpec spec, IReadOnlyList<Stage> stages, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> jobs)
    {
        Spec = spec;
        Stages = stages;
        Jobs = jobs;
    }

    public PipelineSpec Spec { get; }
    /// <summary>Stages in dependency order.</summary>
    public IReadOnlyList<Stage> Stages { get; }
    public IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> Jobs { get; }

    public static PipelineGraph Plan(PipelineSpec spec, IReadOnlyList<Stage> stages)
    {
        var byName = stages.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var ordered = new List<Stage>();
        var visiting = new HashSet<string>();
        void Visit(Stage s)
        {
            if (ordered.Contains(s)) return;
            if (!visiting.Add(s.Name)) throw new InvalidOperationException($"stage cycle through {s.Name}");
            foreach (var up in s.Upstream)
                Visit(byName.TryGetValue(up, out var u) ? u : throw new InvalidOperationException($"stage {s.Name} depends on unknown stage {up}"));
            ordered.Add(s);
        }
        foreach (var s in stages) Visit(s);

        var jobs = new Dictionary<string, IReadOnlyList<JobPlan>>(StringComparer.Ordinal);
        foreach (var s in ordered)
        {
            var planned = s.Plan(spec, jobs);
            var duplicate = planned.GroupBy(j => j.Id).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) throw new InvalidOperationException($"stage {s.Name} planned job '{duplicate.Key}' twice");
            jobs[s.Name] = planned;
        }
        return new PipelineGraph(spec, ordered, jobs);
    }

    public Stage StageNamed(string name) =>
        Stages.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown stage '{name}'{DidYouMean(name)}; stages: {string.Join(", ", Stages.Select(s => s.Name))}");

    string DidYouMean(string name) =>
        Spelling.Suggest(name, Stages.Select(s => s.Name.ToLowerInvariant())) is { } close
            ? $" (did you mean '{Stages.First(s => s.Name.Equals(close, StringComparison.OrdinalIgnoreCase)).Name}'?)"
            : "";

    public JobPlan Find(string stage, string id) =>
        Jobs[StageNamed(stage).Name].FirstOrDefault(j => j.Id == id)
        ?? throw new ArgumentException($"stage {StageNamed(stage).Name} has no job '{id}'; its jobs: " +
                                       string.Join(", ", Jobs[StageNamed(stage).Name].Select(j => j.Id).Take(12)) +
                                       (Jobs[StageNamed(stage).Name].Count > 12 ? $", ... ({Jobs[StageNamed(stage).Name].Count} in all)" : "") +
                                       JobDidYouMean(StageNamed(stage).Name, id));

    string JobDidYouMean(string stage, string id) =>
        Spelling.Suggest(id, Jobs[stage].Select(j => j.Id.ToLowerInvariant())) is { } close
            ? $" (did you mean '{stage}/{Jobs[stage].First(j => j.Id.Equals(close, StringComparison.OrdinalIgnoreCase)).Id}'?)"
            : "";

    /// <summary>
    /// The jobs whose entries go when the jobs of <paramref name="stages"/> run again: theirs and every job of the
    /// pipeline that reads one of them, directly or through others (inputs before readers), the target's or not. Keys
    /// follow configuration, not content, so a job run again under its key leaves its readers' keys as they were: an
    /// entry kept would hold what the old output gave it.
    /// </summary>
    /// <exception cref="ArgumentException">a name is no stage, or a stage <paramref name="target"/> does not build</exception>
    public IReadOnlyList<JobPlan> Rerun(IEnumerable<string> stages, string? target)
    {
        var built = JobsFor(target);
        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in stages)
        {
            var stage = StageNamed(name);
            if (!built.Any(j => j.Stage == stage))
                throw new ArgumentException($"--rerun {stage.Name}: --target {StageNamed(target!).Name} builds no {stage.Name} job");
            named.Add(stage.Name);
        }
        var again = new HashSet<JobPlan>();
        var all = JobsFor(null);
        // stages are in pipeline order, so inputs come before their readers; a reader's inputs may come later only
        // within one stage, which this pass repeats for
        for (var before = -1; before != again.Count;)
        {
            before = again.Count;
            foreach (var job in all)
                if (named.Contains(job.Stage.Name) || job.Inputs.Values.Any(again.Contains))
                    again.Add(job);
        }
        return all.Where(again.Contains).ToList();
    }

    /// <summary>The target stage's jobs and everything they transitively read, inputs before readers.</summary>
    public IReadOnlyList<JobPlan> JobsFor(string? target)
    {
        if (target is null) return Stages.SelectMany(s => Jobs[s.Name]).ToList();
        var result = new List<JobPlan>();
        var seen = new HashSet<string>();
        void Visit(JobPlan j)
        {
            if (!seen.Add(j.Key + "|" + j.Name)) return;
            foreach (var input in j.Inputs.Values) Visit(input);
            result.Add(j);
        }
        foreach (var j in Jobs[StageNamed(target).Name]) Visit(j);
        return result;
    }
}
