using Puzzle.Engine.Data;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// The rules that span fields or touch the file system: one parent, existing inputs, outputs inside the
/// repository's artifacts/ or .puzzle/, a non-empty search space. Rules skip fields the binder already rejected,
/// so one mistake gives one error.
/// </summary>
internal sealed class SpecValidator(SourceMap map, SpecErrorList errors, string baseDirectory)
{
    static readonly string[] OutputRoots = ["artifacts", ".puzzle"];
    static readonly string[] NpmExtensions = [".json", ".txt"];

    public void Check(PipelineSpec spec)
    {
        // A required section that is missing or malformed is null here; the binder has reported it.
        if (spec.Parent is not null) CheckParent(spec.Parent);
        if (spec.Data is not null) CheckData(spec.Data);
        var parent = ParentShape(spec.Parent);
        new SearchSpaceRules(map, errors).Check(spec.SearchSpace, parent);
        CheckPositions(spec, parent);
        CheckLoss(spec.Gkd.Loss);
        CheckCheckpoints(spec.Gkd, spec.Gkd.CheckpointEvery);
        if (spec.Parent?.Pretrain is { } pretrain) CheckCheckpoints(pretrain, pretrain.CheckpointEvery);
        CheckTasks(spec.Evaluation);
        CheckOutput(spec.Pack, "feed", spec.Pack.Feed);
        new ShipRules(map, errors).Check(spec);
        CheckOutput(spec.Executor.Slurm, "store", spec.Executor.Slurm.Store);
        CheckSlurmStages(spec.Executor.Slurm.Stages);
        if (spec.Scenario.Target is { } target && !Cost.Hardware.Known.ContainsKey(target))
            errors.Add(map.At(spec.Scenario, "target"),
                $"scenario.target '{target}' is not a hardware with a known data sheet; known: {string.Join(", ", Cost.Hardware.Known.Keys)}");
    }

    /// <summary>Each entry of executor.slurm.stages names a stage of the pipeline, and no stage has two.</summary>
    void CheckSlurmStages(IReadOnlyList<SlurmStageSpec> entries)
    {
        var names = Stages.PuzzleStages.All().Select(s => s.Name).ToList();
        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (entry?.Stage is not { } stage || !map.Bound(entry, "stage")) continue;
            var where = map.At(entry, "stage");
            var known = names.FirstOrDefault(n => n.Equals(stage, StringComparison.OrdinalIgnoreCase));
            if (known is null)
                errors.Add(where, $"executor.slurm.stages[{i}].stage '{stage}' is no stage of a pipeline" +
                                  (Spelling.Suggest(stage, names.Select(n => n.ToLowerInvariant())) is { } close
                                      ? $" (did you mean '{names.First(n => n.Equals(close, StringComparison.OrdinalIgnoreCase))}'?)" : "") + $"; stages: {string.Join(", ", names)}");
            else if (!seen.TryAdd(known, i))
                errors.Add(where, $"executor.slurm.stages[{i}] is a second entry for {known} (the first is stages[{seen[known]}]); give each stage one entry");
        }
    }

    void CheckParent(ParentSpec parent)
    {
        if (!map.Bound(parent, "path", "pretrain")) return;
        if (parent.Path is null == parent.Pretrain is null)
            errors.Add(map.At(parent), parent.Path is null
                ? "parent needs either path (a Hugging Face model folder) or pretrain (a small Llama trained here)"
                : "parent has both path and pretrain; give exactly one");
        if (parent.Path is { } path && parent.Pretrain is null)
        {
            var full = Resolve(path);
            var where = map.At(parent, "path");
            if (File.Exists(full)) errors.Add(where, $"parent.path '{path}' is a file; name the model's folder");
            else if (!Directory.Exists(full)) errors.Add(where, $"parent.path '{path}' does not exist ({full})");
            else if (!File.Exists(Path.Combine(full, "config.json")))
                errors.Add(where, $"parent.path '{path}' has no config.json; it must be a Hugging Face model folder");
            else if (!File.Exists(Path.Combine(full, "tokenizer.json")))
                errors.Add(where, $"parent.path '{path}' has no tokenizer.json; the pipeline tokenizes its text with the parent's own tokenizer, so put the model's tokenizer.json beside its config.json");
        }
        if (parent.Pretrain is { } pre)
        {
            if (map.Bound(pre, "heads", "kv_heads") && pre.Heads % pre.KvHeads != 0)
                AddAbout(pre, "kv_heads", $"parent.pretrain.kv_heads ({pre.KvHeads}{Default(pre, "kv_heads")}) must divide heads ({pre.Heads}{Default(pre, "heads")})");
            if (map.Bound(pre, "heads", "hidden") && pre.Hidden % pre.Heads != 0)
                AddAbout(pre, "hidden", $"parent.pretrain.hidden ({pre.Hidden}{Default(pre, "hidden")}) must be a multiple of heads ({pre.Heads}{Default(pre, "heads")})");
            else if (map.Bound(pre, "heads", "hidden") && pre.Hidden / pre.Heads % 2 != 0)
                AddAbout(pre, "hidden", $"parent.pretrain.hidden ({pre.Hidden}{Default(pre, "hidden")}) / heads ({pre.Heads}{Default(pre, "heads")}) is a head size of " +
                                        $"{pre.Hidden / pre.Heads}, which must be even (rotary position embeddings turn pairs of a head's dimensions); make hidden a multiple of {2 * pre.Heads}");
        }
    }

    /// <summary>
    /// An error about <paramref name="key"/> of <paramref name="record"/>. When the file leaves the key out, the error is
    /// about a default the user never wrote, most likely a follow-on of a misspelt key: it is listed after the others.
    /// </summary>
    void AddAbout(object record, string key, string message)
    {
        if (map.Has(record, key)) errors.Add(map.At(record, key), message);
        else errors.AddFollowOn(map.At(record, key), message);
    }

    string Default(object record, string key) => map.Has(record, key) ? "" : ", the default";

    /// <summary>
    /// The parent's KV heads and layers where they can be known before anything runs: from pretrain's values (defaults
    /// included, as those are what gets trained), or from an existing parent's config.json.
    /// </summary>
    SearchSpaceRules.ParentShape? ParentShape(ParentSpec? parent)
    {
        if (parent is null || !map.Bound(parent, "path", "pretrain")) return null;
        if (parent.Pretrain is { } pre)
            return new(map.Bound(pre, "kv_heads") ? pre.KvHeads : null, map.Bound(pre, "layers") ? pre.Layers : null,
                $"parent.pretrain.kv_heads{(map.Has(pre, "kv_heads") ? "" : ", the default")}",
                FfnWidth: map.Bound(pre, "intermediate") ? pre.Intermediate : null,
                FfnSource: $"parent.pretrain.intermediate{(map.Has(pre, "intermediate") ? "" : ", the default")}");
        if (parent.Path is not { } path) return null;
        var config = Path.Combine(Resolve(path), "config.json");
        if (!File.Exists(config)) return null; // CheckParent reports it
        try
        {
            var read = Checkpoints.HfConfig.Parse(File.ReadAllText(config), config);
            var kv = read.Blocks.Select(b => b.Attention.KvHeads).Where(k => k > 0).Distinct().ToList();
            var ffn = read.Blocks.Where(b => b.Ffn.Kind == Model.FfnKind.SwiGlu).Select(b => b.Ffn.IntermediateSize).Distinct().ToList();
            return new(kv.Count == 1 ? kv[0] : null, read.NumLayers, $"{path}/config.json", read.MaxPositionEmbeddings, $"{path}/config.json",
                ffn.Count == 1 ? ffn[0] : null, $"intermediate_size in {path}/config.json");
        }
        catch (Exception e) when (e is Checkpoints.CheckpointException or IOException or System.Text.Json.JsonException)
        {
            errors.Add(map.At(parent, "path"), $"parent.path '{path}': config.json does not read as a Llama config: {e.Message}");
            return null;
        }
    }

    /// <summary>A user's parent was trained on at most max_position_embeddings positions: windows of text and the
    /// timed scenario stay within them (RoPE past them computes, quietly worse).</summary>
    void CheckPositions(PipelineSpec spec, SearchSpaceRules.ParentShape? parent)
    {
        if (parent is not { MaxPositions: { } max, Config: { } config }) return;
        string Beyond(string what, int positions) =>
            $"{what} is {positions:N0} positions, beyond the parent's max_position_embeddings {max:N0} ({config}): it was not trained on positions past them; use at most {max:N0}";
        if (spec.Data is { } data && map.Bound(data, "seq_len") && data.SeqLen > max)
            AddAbout(data, "seq_len", Beyond($"data.seq_len{Default(data, "seq_len")}", data.SeqLen));
        var scenario = spec.Scenario;
        if (map.Bound(scenario, "prompt", "generate") && scenario.Prompt + scenario.Generate > max)
            AddAbout(scenario, map.Has(scenario, "generate") || !map.Has(scenario, "prompt") ? "generate" : "prompt",
                Beyond($"scenario.prompt + scenario.generate ({scenario.Prompt:N0} + {scenario.Generate:N0}{Defaults()})", scenario.Prompt + scenario.Generate));

        // values the file leaves out are defaults the user never wrote: say so, as data.seq_len's error does
        string Defaults() => (map.Has(scenario, "prompt"), map.Has(scenario, "generate")) switch
        {
            (false, false) => ", both the defaults",
            (false, true) => ", prompt the default",
            (true, false) => ", generate the default",
            _ => "",
        };
    }

    void CheckData(DataSpec data)
    {
        if (map.Bound(data, "npm", "train") && data.Npm.Count == 0 && data.Train.Count == 0)
            errors.Add(map.At(data), "data needs text: give npm packages, train files, or both");
        var fetched = new Dictionary<string, int>();
        for (var i = 0; i < data.Npm.Count; i++)
        {
            if (data.Npm[i] is not { } source || !map.Bound(source, "package")) continue;
            if (!fetched.TryAdd(Stages.FetchStage.JobId(source.Package), i))
                errors.Add(map.At(source, "package"), $"data.npm[{i}] fetches {source.Package}, a package data.npm[{fetched[Stages.FetchStage.JobId(source.Package)]}] fetches " +
                                                      "already; give each package one entry, with a files glob that matches what you need of it");
        }
        foreach (var npm in data.Npm.Where(n => map.Bound(n, "files")))
        {
            var where = map.At(npm, "files");
            var path = map.PathOf(npm, "files");
            if (npm.Files.Replace('\\', '/').Split('/').Contains(".."))
                errors.Add(where, $"{path} '{npm.Files}' must stay inside the package (no '..')");
            else if (Path.GetExtension(npm.Files) is { Length: > 0 } ext && !ext.Contains('*') && !NpmExtensions.Contains(ext.ToLowerInvariant()))
                errors.Add(where, $"{path} '{npm.Files}' names {ext} files; npm sources are read from .json and .txt files");
        }
        for (var i = 0; i < data.Train.Count; i++)
        {
            try
            {
                InputFiles.Resolve([data.Train[i]], baseDirectory);
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException)
            {
                errors.Add(map.At(data, "train", i), $"data.train[{i}]: {e.Message}");
            }
        }
    }

    /// <summary>Task files are read whole here, so a bad line is an error (file:line and field) before anything runs.</summary>
    void CheckTasks(EvaluationSpec evaluation)
    {
        for (var i = 0; i < evaluation.Tasks.Count; i++)
        {
            var full = Path.GetFullPath(Path.Combine(baseDirectory, evaluation.Tasks[i]));
            try
            {
                Evaluation.Tasks.ChoiceTaskFile.Read(full);
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or IOException or UnauthorizedAccessException)
            {
                errors.Add(map.At(evaluation, "tasks", i), $"evaluation.tasks[{i}]: {e.Message}");
            }
        }
        foreach (var group in evaluation.Tasks.GroupBy(Evaluation.Tasks.ChoiceTaskFile.NameOf).Where(g => g.Count() > 1))
            errors.Add(map.At(evaluation, "tasks"), $"evaluation.tasks: {string.Join(" and ", group)} have the same task name '{group.Key}'; rename one");
        if (evaluation.NextSpan.Examples > 0 && evaluation.Tasks.FirstOrDefault(t => Evaluation.Tasks.ChoiceTaskFile.NameOf(t) == Evaluation.Tasks.NextSpanTask.Name) is { } clash)
            errors.Add(map.At(evaluation, "tasks"), $"evaluation.tasks: '{clash}' has the name of the task made from held-out text; rename it, or set evaluation.next_span.examples to 0");
    }

    /// <summary>A training section saves resumable checkpoints every so many steps or by time, not both.</summary>
    void CheckCheckpoints(object section, int? every)
    {
        if (map.Bound(section, "checkpoint_every", "checkpoint_minutes") && every is not null && map.Has(section, "checkpoint_minutes"))
            errors.Add(map.At(section, "checkpoint_minutes"), $"{map.PathOf(section, "checkpoint_every")} and {map.PathOf(section, "checkpoint_minutes")} are both set; " +
                                                              "give at most one: checkpoint_every saves a resumable checkpoint every so many steps, " +
                                                              "checkpoint_minutes (the default, 10) every so many minutes");
    }

    void CheckLoss(GkdLoss loss)
    {
        if (map.Bound(loss, "cosine", "kl", "lm") && loss.Cosine == 0 && loss.Kl == 0 && loss.Lm == 0)
            errors.Add(map.At(loss), "gkd.loss weights are all zero; make at least one of cosine, kl and lm positive");
    }

    /// <summary>Outputs stay inside the repository's artifacts/ or .puzzle/, so a spec cannot write anywhere else.</summary>
    void CheckOutput(object record, string key, string? path)
    {
        if (path is null || !map.Bound(record, key)) return;
        var full = Resolve(path);
        var inside = OutputRoots.Select(r => Path.Combine(Path.GetFullPath(baseDirectory), r))
            .Any(root => full == root || full.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal));
        if (!inside)
            errors.Add(map.At(record, key), $"{map.PathOf(record, key)} '{path}' must stay inside artifacts/ or .puzzle/ (it resolves to {full})");
        else if (File.Exists(full))
            errors.Add(map.At(record, key), $"{map.PathOf(record, key)} '{path}' is a file; name a folder");
    }

    string Resolve(string path) => Path.GetFullPath(Path.Combine(baseDirectory, path));
}
