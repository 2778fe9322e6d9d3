using Puzzle.Engine.Evaluation.Tasks;
using Puzzle.Engine.Export;
using Puzzle.Engine.Reporting;
using Puzzle.Engine.Tests.Export;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Multiple-choice task results in report.json's rows, report.html, the console table and the model card.</summary>
public sealed class TaskReportTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static TaskScore Score(double acc, double norm) => new("heldout-next-span", 200, 4, acc, norm);

    static ReportEntry Model(string name, string kind, IReadOnlyList<TaskResult> tasks) => new(name, kind)
    {
        Top1 = 0.2, Retention = 1.0, Loss = 4.0, Kl = 0.01, Agreement = 0.9, Parameters = 1000, PrefillTokensPerS = 100, DecodeTokensPerS = 10,
        Speedup = new ReportSpeedup(1.3, 1.2, 1.9, 1.4), Tasks = tasks,
    };

    [Fact]
    public void Rows_carry_accuracy_normalised_accuracy_and_retention_against_the_parent()
    {
        var parent = Score(0.5, 0.4);
        var row = TaskResult.Of(Score(0.45, 0.44), parent);
        Assert.Equal(0.45, row.Accuracy);
        Assert.Equal(0.44, row.AccuracyNorm);
        Assert.Equal(0.9, row.Retention!.Value, 12);
        Assert.Equal(1.1, row.RetentionNorm!.Value, 12);
        Assert.Equal(0.25, row.Chance);
        Assert.Equal(1.0, TaskResult.Of(parent, parent).Retention);
        Assert.Null(TaskResult.Of(Score(0.3, 0.3), Score(0, 0)).Retention); // no ratio to a parent that scored nothing
    }

    [Fact]
    public void The_page_and_the_console_table_show_every_models_task_accuracy_and_retention()
    {
        var parentTasks = Score(0.5, 0.4);
        var report = new PipelineReport("ci", new string('e', 64), new ReportScenario("cpu", 2, 32, 8, null, null),
            [new ReportConstraint("throughput ≥ 1.3× parent", "time_s", 1)],
            [Model("parent", "parent", [TaskResult.Of(parentTasks, parentTasks)]), Model("child1", "child", [TaskResult.Of(Score(0.45, 0.42), parentTasks)])]);
        var html = ReportHtml.Render(report, null, [], [], new HashSet<string>());
        Assert.Contains("<h2>Multiple-choice tasks</h2>", html);
        Assert.Contains("heldout-next-span: 200 questions of 4 choices (chance 25.0 %)", html);
        Assert.Contains("<td>child1</td><td>45.0 %</td><td>42.0 %</td><td>90.0 %</td>", html);
        Assert.Contains("<td>parent</td><td>50.0 %</td><td>40.0 %</td><td>100.0 %</td>", html);

        var text = ReportTable.Render(report);
        Assert.Contains("task heldout-next-span (acc / acc_norm, retention): parent 50.0 % / 40.0 % (100.0 %), child1 45.0 % / 42.0 % (90.0 %)", text);

        var without = ReportHtml.Render(report with { Models = [Model("parent", "parent", [])] }, null, [], [], new HashSet<string>());
        Assert.DoesNotContain("Multiple-choice tasks", without);
    }

    [Fact]
    public void The_model_card_lists_each_models_task_accuracy_and_retention()
    {
        var parentTasks = Score(0.5, 0.4);
        var card = ExportTestSupport.Card();
        card = card with
        {
            Report = card.Report.Select(e => e with
            {
                Tasks = [TaskResult.Of(e.Kind == "parent" ? parentTasks : Score(0.45, 0.42), parentTasks)],
            }).ToList(),
        };
        ExportTestSupport.WriteChild(_dir["heal"], Heterogeneous());
        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), card);
        var readme = File.ReadAllText(_dir["out/README.md"]).ReplaceLineEndings("\n");
        Assert.Contains("## Multiple-choice tasks", readme);
        Assert.Contains("| model | task | questions | chance | acc | acc_norm | retention |", readme);
        Assert.Contains("| parent | heldout-next-span | 200 | 25.00% | 50.00% | 40.00% | 100.00% |", readme);
        Assert.Contains("| **child1** (this model) | heldout-next-span | 200 | 25.00% | 45.00% | 42.00% | 90.00% |", readme);
    }
}
