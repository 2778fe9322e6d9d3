extern alias Tasks;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Tests.Cli;
using TasksGraphDocument = Tasks::Puzzle.Engine.Pipeline.Graph.GraphDocument;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// The one contract between the CLI and its front ends: the documents `puzzle graph/status --json` and
/// `puzzle run --summary` print, from the real planned graph of pipelines/ci.yaml, read back by the readers the MSBuild
/// task and the Cake script use. (FrontEndTests runs both front ends on them end to end.)
/// </summary>
[Collection(nameof(ConsoleCollection))]
public sealed class FrontEndContractTests
{
    static string CiSpec => Path.Combine(TestRepo.Source, "pipelines", "ci.yaml");

    [Theory]
    [InlineData(null)]
    [InlineData("Search")]
    [InlineData("report")] // a target in any case, as the CLI takes it
    public void Graph_json_lists_the_targets_jobs_in_the_executors_order_and_the_msbuild_task_reads_it_whole(string? target)
    {
        using var store = new TempDir();
        string[] targetArgs = target is null ? [] : ["--target", target];
        var (exit, json, err) = CliRunner.Run(["graph", CiSpec, "--json", "--store", store.Path, .. targetArgs]);
        Assert.True(exit == 0, err);
        var session = PipelineSession.Open(CiSpec, store.Path);
        var executor = session.Graph.JobsFor(target);

        var doc = GraphDocument.Parse(json);
        Assert.Equal("ci", doc.Pipeline);
        Assert.Equal(target is null ? null : session.Graph.StageNamed(target).Name, doc.Target);
        var listed = doc.InOrder().ToList();
        Assert.Equal(executor.Select(j => (j.Name, j.Key)), listed.Select(p => ($"{p.Stage.Name}/{p.Job.Id}", p.Job.Key)));
        Assert.Equal(Enumerable.Range(0, executor.Count), listed.Select(p => p.Job.Order));
        var byName = listed.ToDictionary(p => $"{p.Stage.Name}/{p.Job.Id}", p => p.Job);
        foreach (var (stage, job) in listed)
        {
            Assert.Equal(session.Graph.Find(stage.Name, job.Id).Inputs.ToDictionary(i => i.Key, i => i.Value.Name), job.Inputs);
            foreach (var input in job.Inputs.Values)
                Assert.True(byName[input].Order < job.Order, $"{stage.Name}/{job.Id} is listed before its input {input}");
            Assert.Equal(job.Inputs.Values.Select(i => byName[i].Wave + 1).DefaultIfEmpty(0).Max(), job.Wave);
        }
        if (target == "Search")
        {
            Assert.DoesNotContain(doc.Stages, s => s.Name is "Report" or "Evaluate" or "Heal"); // downstream of the target
            Assert.Contains(doc.Stages, s => s.Name == "Parent");
        }

        // the MSBuild task's own build of the record (compiled from the same source): field for field, nothing lost
        var tasks = TasksGraphDocument.Parse(json);
        Assert.Equal(json.TrimEnd(), tasks.ToJson());
        Assert.Equal(doc.ToJson(), tasks.ToJson());
        Assert.Equal(listed.Select(p => (p.Stage.Name, p.Job.Id, p.Job.Wave)), tasks.InOrder().Select(p => (p.Stage.Name, p.Job.Id, p.Job.Wave)));
    }

    /// <summary>`puzzle graph --help` describes --json's document: every field it prints is named there.</summary>
    [Fact]
    public void Graph_json_help_names_every_field_the_document_has()
    {
        using var store = new TempDir();
        var (exit, json, err) = CliRunner.Run("graph", CiSpec, "--json", "--store", store.Path, "--target", "Parent");
        Assert.True(exit == 0, err);
        var doc = JsonNode.Parse(json)!.AsObject();
        var stage = doc["stages"]!.AsArray()[0]!.AsObject();
        var job = stage["jobs"]!.AsArray()[0]!.AsObject();
        var fields = doc.Select(p => p.Key).Concat(stage.Select(p => p.Key)).Concat(job.Select(p => p.Key)).Distinct().ToList();

        var (helpExit, help, _) = CliRunner.Run("graph", "--help");
        Assert.Equal(0, helpExit);
        var described = Regex.Replace(help, @"\s+", " ");
        Assert.All(fields, f => Assert.Matches($@"[{{\[ ,]{f}[,:}}\]]", described));
    }

    /// <summary>
    /// Each job names the job whose process builds it too (its lead), among the jobs the store lacks, as the executor
    /// groups them: a front end that starts a wave's leads first never splits a group. Each lead's process carries the
    /// memory its stage plans for it, and its stage what its device holds for the jobs on it. Stages say whether their
    /// jobs compute on one thread, or time.
    /// </summary>
    [Fact]
    public void Graph_json_names_each_jobs_lead_among_the_jobs_the_store_lacks_its_planned_memory_and_the_single_threaded_and_timing_stages()
    {
        using var store = new TempDir();
        var session = PipelineSession.Open(CiSpec, store.Path);
        GraphDocument Graph()
        {
            var (exit, json, err) = CliRunner.Run("graph", CiSpec, "--json", "--target", "Report", "--store", store.Path);
            Assert.True(exit == 0, err);
            return GraphDocument.Parse(json);
        }
        List<(string Id, string? Lead)> Leads(GraphDocument doc, string stage) => doc.Stages.Single(s => s.Name == stage).Jobs.Select(j => (j.Id, j.Lead)).ToList();

        var doc = Graph();
        var distill = session.Graph.Jobs["Distill"];
        Assert.True(distill.Count >= 4, "the ci spec's library has variants in both layers");
        // one Distill process for the small parent's every layer: the first job leads, the others are built in its process
        Assert.Equal(distill.Select((j, i) => (j.Id, i == 0 ? null : distill[0].Id)), Leads(doc, "Distill"));
        Assert.Equal([("layer0", null), ("layer1", "layer0")], Leads(doc, "Score"));
        Assert.All(doc.Stages, s => Assert.Equal(s.Name is "Fetch" or "Tokenizer" or "Report", s.SingleThreaded));
        Assert.All(doc.Stages, s => Assert.Equal(s.Name is "Measure" or "Search" or "Speed", s.Exclusive));
        Assert.All(doc.Stages.Where(s => s.Name is "Parent" or "Measure" or "Search" or "Speed" or "Report").SelectMany(s => s.Jobs), j => Assert.Null(j.Lead));
        // the memory the executor plans each process for (its job with its companions); companions carry none
        var distillEntry = doc.Stages.Single(s => s.Name == "Distill");
        Assert.Equal([distill[0].Stage.PlannedMemory(distill, session.Spec), .. distill.Skip(1).Select(_ => (long?)null)],
            distillEntry.Jobs.Select(j => j.PlannedMemory));
        Assert.True(distillEntry.Jobs[0].PlannedMemory > 0);
        var heal = session.Graph.Jobs["Heal"];
        var healProcesses = heal[0].Stage.Processes(heal, session.Spec).ToList();
        Assert.True(healProcesses.Count < heal.Count, "the ci spec heals its models two to a process");
        Assert.Equal(healProcesses.SelectMany(p => p.Select((j, i) => (j.Id, i == 0 ? p[0].Stage.PlannedMemory(p, session.Spec) : null))).OrderBy(p => p.Id),
            doc.Stages.Single(s => s.Name == "Heal").Jobs.Select(j => (j.Id, j.PlannedMemory)).OrderBy(p => p.Id));
        // 90% of this machine's memory, where a job plans (the CI spec computes on the CPU)
        Assert.All(doc.Stages, s => Assert.Equal(s.Name is "Distill" or "Heal" ? (long)(0.9 * GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) : null, s.DeviceMemory));

        // once the first variant is built, the next one the store lacks leads the rest
        var first = distill[0];
        var staging = new CacheStore(store.Path).NewStaging(first.Key);
        new CacheStore(store.Path).Publish(staging, new JobManifest
        {
            Key = first.Key, Stage = first.Stage.Name, Job = first.Id, Version = first.Stage.Version, Config = first.ConfigJson,
            Inputs = first.InputKeys, Seed = 0, Files = new Dictionary<string, string>(), Metrics = new JsonObject(),
            StartedUtc = DateTime.UtcNow, Seconds = 0, Host = "test", Tool = "test",
        });
        Assert.Equal(distill.Select((j, i) => (j.Id, i <= 1 ? null : distill[1].Id)), Leads(Graph(), "Distill"));
    }

    /// <summary>The text of <c>puzzle graph</c> says the same: who builds a companion, and what each process is planned at.</summary>
    [Fact]
    public void Graph_text_names_each_companions_lead_and_each_processs_planned_memory()
    {
        using var store = new TempDir();
        var (exit, text, err) = CliRunner.Run("graph", CiSpec, "--target", "Heal", "--store", store.Path);
        Assert.True(exit == 0, err);
        var doc = GraphDocument.Of(PipelineSession.Open(CiSpec, store.Path).Graph, new CacheStore(store.Path), "Heal");
        foreach (var (stage, job) in doc.InOrder())
        {
            var line = Assert.Single(text.ReplaceLineEndings("\n").Split('\n'), l => l.StartsWith($"  {job.Order,4}  {job.Id}  ", StringComparison.Ordinal));
            Assert.Equal(job.Lead is not null, line.Contains($"  (built with {job.Lead})"));
            Assert.Equal(job.PlannedMemory is { } bytes ? $"  (its process planned at about {StoreUsage.Human(bytes)})" : null,
                Regex.Match(line, @"  \(its process planned at [^)]*\)$") is { Success: true } m ? m.Value : null);
        }
        Assert.Contains("(its process planned at about ", text);
    }

    [Fact]
    public void Status_json_is_the_engines_status_of_the_target_and_reads_back_whole()
    {
        using var store = new TempDir();
        var (exit, json, err) = CliRunner.Run("status", CiSpec, "--json", "--target", "parent", "--store", store.Path);
        Assert.True(exit == 0, err);

        var doc = StatusDocument.Parse(json);
        Assert.Equal(("ci", "Parent"), (doc.Pipeline, doc.Target));
        Assert.Equal(PipelineSession.Open(CiSpec, store.Path).Status("Parent"), doc.Jobs);
        Assert.All(doc.Jobs, j => Assert.Equal((JobState.Missing, "never built"), (j.State, j.Reason)));
        Assert.Equal(json.TrimEnd(), doc.ToJson());
    }

    [Fact]
    public void A_run_record_of_the_planned_graph_reads_back_whole()
    {
        using var store = new TempDir();
        var jobs = PipelineSession.Open(CiSpec, store.Path).Graph.JobsFor("Report");
        var outcomes = Enum.GetValues<JobOutcome>();
        var summary = new RunSummary("ci", "Report", new DateTime(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc), 12.5,
            jobs.Select((j, i) => new JobRecord(j.Stage.Name, j.Id, j.Key, outcomes[i % outcomes.Length], i * 0.25,
                i % 4 >= 1 ? $"logs/ci/{j.Name}.log" : null, i % 4 == 3 ? "input Parent/parent did not build" : null)).ToList());

        var back = RunSummary.Parse(summary.ToJson());

        Assert.Equal(summary.Jobs, back.Jobs);
        Assert.Equal((summary.Pipeline, summary.Target, summary.StartedUtc, summary.Seconds), (back.Pipeline, back.Target, back.StartedUtc, back.Seconds));
        Assert.Equal(summary.ToJson(), back.ToJson());
        Assert.False(back.Succeeded);
    }

    [Fact]
    public void A_document_that_lacks_a_field_is_an_error_naming_where_it_came_from_and_the_field()
    {
        var e = Assert.Throws<JsonException>(() => GraphDocument.Parse("""{"pipeline": "ci", "spec": "ci.yaml", "target": null, "stages": []}""", "graph.json"));
        Assert.StartsWith("graph.json: not a GraphDocument", e.Message);
        Assert.Contains("store", e.Message);
        Assert.Throws<JsonException>(() => StatusDocument.Parse("""{"pipeline": "ci", "target": null, "jobs": [{"stage": "Parent"}]}"""));
        Assert.Throws<JsonException>(() => RunSummary.Parse("null"));
    }

    /// <summary>
    /// Cake cannot reference the Engine it builds, so the script compiles the contract's source files itself: every
    /// document it reads comes from them, and it reads nothing inside the store.
    /// </summary>
    [Fact]
    public void The_cake_script_reads_the_cli_json_with_the_engines_contract_source_and_nothing_in_the_store()
    {
        var build = Path.Combine(TestRepo.Source, "build");
        var script = File.ReadAllText(Path.Combine(build, "puzzle.cake"));
        var loaded = Regex.Matches(script, "^#load \"(?<path>[^\"]+)\"", RegexOptions.Multiline)
            .Select(m => Path.GetRelativePath(TestRepo.Source, Path.GetFullPath(Path.Combine(build, m.Groups["path"].Value))).Replace('\\', '/'))
            .ToList();
        Assert.Equal([.. ContractFiles, .. ScriptHelpers], loaded);
        foreach (var file in loaded)
        {
            var lines = File.ReadAllLines(Path.Combine(TestRepo.Source, file));
            // what a script can compile: base-library usings only, the namespace hidden from Cake, nullable context undone
            Assert.All(lines.Where(l => l.StartsWith("using ", StringComparison.Ordinal)), l => Assert.StartsWith("using System", l));
            var ns = Array.FindIndex(lines, l => l.StartsWith("namespace ", StringComparison.Ordinal));
            Assert.True(ns > 0 && lines[ns - 1] == "#if !CAKE" && lines[ns + 1] == "#endif", $"{file}: the namespace must sit inside #if !CAKE");
            Assert.Equal(("#nullable enable", "#nullable restore"), (lines[0], lines[^1]));
        }
        foreach (var text in new[] { script, File.ReadAllText(Path.Combine(TestRepo.Source, "build.cake")) })
            foreach (var handParsing in new[] { "JsonDocument", "JsonElement", "GetProperty", "last.json", "\"runs\"", "runs/" })
                Assert.DoesNotContain(handParsing, text);

        // the MSBuild task compiles the graph document (and its JSON options) from the same files
        var tasksProject = File.ReadAllText(Path.Combine(TestRepo.Source, "src", "Puzzle.Tasks", "Puzzle.Tasks.csproj"));
        foreach (var file in new[] { "PuzzleJson.cs", "Pipeline\\Graph\\GraphDocument.cs" })
            Assert.Contains($"<Compile Include=\"..\\Puzzle.Engine\\{file}\"", tasksProject);
    }

    static readonly string[] ContractFiles =
    [
        "src/Puzzle.Engine/PuzzleJson.cs",
        "src/Puzzle.Engine/Pipeline/Graph/GraphDocument.cs",
        "src/Puzzle.Engine/Pipeline/Execution/JobState.cs",
        "src/Puzzle.Engine/Pipeline/Execution/StatusDocument.cs",
        "src/Puzzle.Engine/Pipeline/Execution/RunSummary.cs",
    ];

    /// <summary>Engine source the script compiles besides the contract: the "did you mean" of its argument check.</summary>
    static readonly string[] ScriptHelpers = ["src/Puzzle.Engine/Pipeline/Spelling.cs"];

    /// <summary>
    /// build.cake refuses every argument missing from its table (a misspelt one ran the default silently), so the table
    /// must hold every argument the script reads, and nothing it does not; README's Cake row names each of them.
    /// </summary>
    [Fact]
    public void The_cake_scripts_table_of_arguments_is_what_it_reads_and_the_readme_lists_each()
    {
        var script = File.ReadAllText(Path.Combine(TestRepo.Source, "build.cake"));
        var table = Regex.Matches(script, @"\[""(?<name>[a-z-]+)""\] = ").Select(m => m.Groups["name"].Value).Order().ToList();
        var passed = Regex.Match(script, @"ScriptArguments\.ForCli\(Context, (?<names>[^)]*)\)").Groups["names"].Value;
        var read = Regex.Matches(script, @"\b(?:Argument|Arguments|HasArgument)(?:<[^>]+>)?\(""(?<name>[a-z-]+)""").Select(m => m.Groups["name"].Value)
            .Concat(Regex.Matches(passed, @"""(?<name>[a-z-]+)""").Select(m => m.Groups["name"].Value))
            .Distinct().Order().ToList();
        Assert.Contains("jobs", table);
        Assert.Equal(table, read);

        var cakeRow = File.ReadLines(Path.Combine(TestRepo.Source, "README.md")).Single(l => l.StartsWith("| Cake |", StringComparison.Ordinal));
        Assert.All(table, name => Assert.Matches($@"--{name}(?![\w-])", cakeRow));
    }
}
