extern alias Tasks;
using System.Collections;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using PuzzleGraph = Tasks::Puzzle.Tasks.PuzzleGraph;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The MSBuild task that plans a pipeline: a spec's errors point at the spec's lines, not at the targets file.</summary>
public sealed class PuzzleGraphTaskTests
{
    sealed class Engine : IBuildEngine
    {
        public readonly List<BuildErrorEventArgs> Errors = [];
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 7;
        public int ColumnNumberOfTaskNode => 5;
        public string ProjectFileOfTaskNode => "Puzzle.Tasks.targets";
        public void LogErrorEvent(BuildErrorEventArgs e) => Errors.Add(e);
        public void LogWarningEvent(BuildWarningEventArgs e) { }
        public void LogMessageEvent(BuildMessageEventArgs e) { }
        public void LogCustomEvent(CustomBuildEventArgs e) { }
        public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => false;
    }

    /// <summary>Runs the task with a stand-in for <c>dotnet puzzle.dll graph</c> that prints <paramref name="stderr"/> and exits 1.</summary>
    static Engine Plan(TempDir dir, string stderr)
    {
        File.WriteAllText(dir["puzzle.sh"], $"cat >&2 <<'END'\n{stderr}\nEND\nexit 1\n");
        var engine = new Engine();
        var task = new PuzzleGraph
        {
            BuildEngine = engine, Dotnet = "/bin/bash", Cli = dir["puzzle.sh"], StampDirectory = dir["stamps"],
            Pipelines = [new TaskItem(dir["x.yaml"])],
        };
        Assert.False(task.Execute());
        return engine;
    }

    [Fact]
    public void Each_error_of_a_spec_is_logged_at_its_line_and_column_in_the_spec()
    {
        using var dir = new TempDir();
        var spec = dir["x.yaml"];
        var engine = Plan(dir, $"""
            {spec}:2:34: error: data.seq_len: expected an integer, found the string 'abc'
            {spec}:3:16: error: parent.path 'nope' does not exist (/tmp/nope)
            """);

        Assert.Collection(engine.Errors,
            e => Assert.Equal((spec, 2, 34, "data.seq_len: expected an integer, found the string 'abc'"), (e.File, e.LineNumber, e.ColumnNumber, e.Message)),
            e => Assert.Equal((spec, 3, 16, "parent.path 'nope' does not exist (/tmp/nope)"), (e.File, e.LineNumber, e.ColumnNumber, e.Message)));
    }

    [Fact]
    public void An_error_without_a_position_is_one_error_about_the_spec()
    {
        using var dir = new TempDir();
        var engine = Plan(dir, "error: the store at /s is another version's\nremove it or pass --store");

        var error = Assert.Single(engine.Errors);
        Assert.Equal(dir["x.yaml"], error.File);
        Assert.Equal("the store at /s is another version's\nremove it or pass --store", error.Message);
    }

    [Fact]
    public void A_negative_thread_count_is_an_error_naming_the_property()
    {
        using var dir = new TempDir();
        var engine = new Engine();
        var task = new PuzzleGraph { BuildEngine = engine, Cli = "unused", StampDirectory = dir["stamps"], Pipelines = [new TaskItem(dir["x.yaml"])], ThreadsPerJob = -2 };
        Assert.False(task.Execute());
        Assert.Equal("PuzzleThreadsPerJob must be at least 1, or 0 for the cores divided among the jobs; got -2", Assert.Single(engine.Errors).Message);
    }

    [Fact]
    public void PuzzleDevice_plans_the_graph_on_that_device_as_the_CLI_and_Cake_device_option_do()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["puzzle.sh"], $"echo \"$*\" > '{dir["args"]}'\necho 'error: stop here' >&2\nexit 1\n");
        var task = new PuzzleGraph
        {
            BuildEngine = new Engine(), Dotnet = "/bin/bash", Cli = dir["puzzle.sh"], StampDirectory = dir["stamps"],
            Pipelines = [new TaskItem(dir["x.yaml"])], Device = "cuda",
        };
        Assert.False(task.Execute());
        // before, MSBuild had no device setting: the graph (and so every key) was the spec's device's
        Assert.Contains(" --device cuda", File.ReadAllText(dir["args"]));
    }

    [Fact]
    public void PuzzleRerun_removes_the_stages_entries_with_puzzle_forget_before_the_plan()
    {
        using var dir = new TempDir();
        // the stand-in CLI: forget succeeds, then graph stops the task
        File.WriteAllText(dir["puzzle.sh"], $"echo \"$*\" >> '{dir["args"]}'\n[ \"$1\" = forget ] && {{ echo 'rerun Measure: 3 cached entries removed'; exit 0; }}\necho 'error: stop here' >&2\nexit 1\n");
        var engine = new Engine();
        var task = new PuzzleGraph
        {
            BuildEngine = engine, Dotnet = "/bin/bash", Cli = dir["puzzle.sh"], StampDirectory = dir["stamps"],
            Pipelines = [new TaskItem(dir["x.yaml"], new Dictionary<string, string> { ["Stage"] = "Search" })], Rerun = "Measure;Score", Device = "cuda",
        };
        Assert.False(task.Execute());
        // before, MSBuild had no rerun: a Measure job timed on a busy machine could be timed again only through the CLI
        Assert.Equal([$"forget {dir["x.yaml"]} Measure,Score --device cuda --target Search",
                      $"graph {dir["x.yaml"]} --json --device cuda --target Search"], File.ReadAllLines(dir["args"]));
        Assert.Equal("stop here", Assert.Single(engine.Errors).Message);
    }

    [Fact]
    public void A_device_other_than_cpu_or_cuda_is_an_error_naming_the_property()
    {
        using var dir = new TempDir();
        var engine = new Engine();
        var task = new PuzzleGraph { BuildEngine = engine, Cli = "unused", StampDirectory = dir["stamps"], Pipelines = [new TaskItem(dir["x.yaml"])], Device = "gpu" };
        Assert.False(task.Execute());
        Assert.Equal("PuzzleDevice must be cpu or cuda (or empty for the spec's device); got 'gpu'", Assert.Single(engine.Errors).Message);
    }
}
