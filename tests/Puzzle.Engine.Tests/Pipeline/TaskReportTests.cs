using System.Text.Json.Nodes;
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

    static JsonArray Tasks(double acc, double norm) => new(new JsonObject
    {
        ["name"] = "heldout-next-span", ["examples"] = 200, ["choices"] = 4, ["accuracy"] = acc, ["accuracy_norm"] = norm, ["chance"] = 0.25,
    });

    static JsonObject Model(string name, string kind, JsonArray tasks) => new()
    {
        ["name"] = name, ["kind"] = kind, ["top1"] = 0.2, ["retention"] = 1.0, ["loss"] = 4.0, ["kl"] = 0.01, ["agreement"] = 0.9,
        ["parameters"] = 1000.0, ["prefill_tokens_per_s"] = 100.0, ["decode_tokens_per_s"] = 10.0,
        ["speedup"] = new JsonObject { ["predicted"] = 1.3, ["prefill"] = 1.2, ["decode"] = 1.9, ["scenario"] = 1.4 },
        ["tasks"] = tasks,
    };

    [Fact]
    public void Rows_carry_accuracy_normalised_accuracy_and_retention_against_the_parent()
    {
        var parent = Tasks(0.5, 0.4);
        var rows = TaskRetention.Rows(Tasks(0.45, 0.44), parent);
        var row = Assert.Single(rows)!.AsObject();
        Assert.Equal(0.45, (double)row["accuracy"]!);
        Assert.Equal(0.44, (double)row["accuracy_norm"]!);
        Assert.Equal(0.9, (double)row["retention"]!, 12);
        Assert.Equal(1.1, (double)row["retention_norm"]!, 12);
        Assert.Equal(1.0, (double)TaskRetention.Rows(parent, parent)[0]!["retention"]!);
        Assert.Null(TaskRetention.Rows(Tasks(0.3, 0.3), Tasks(0, 0))[0]!["retention"]); // no ratio to a parent that scored nothing
    }

    [Fact]
    public void The_page_and_the_console_table_show_every_models_task_accuracy_and_retention()
    {
        var parentTasks = Tasks(0.5, 0.4);
        var report = new JsonObject
        {
            ["pipeline"] = "ci", ["key"] = new string('e', 64),
            ["scenario"] = new JsonObject { ["device"] = "cpu", ["batch"] = 2, ["prompt"] = 32, ["generate"] = 8 },
            ["constraints"] = new JsonArray(new JsonObject { ["label"] = "throughput ≥ 1.3× parent" }),
            ["models"] = new JsonArray(Model("parent", "parent", TaskRetention.Rows(parentTasks, parentTasks)),
                Model("child1", "child", TaskRetention.Rows(Tasks(0.45, 0.42), parentTasks))),
        };
        var html = ReportHtml.Render(report, null, [], [], new HashSet<string>());
        Assert.Contains("<h2>Multiple-choice tasks</h2>", html);
        Assert.Contains("heldout-next-span: 200 questions of 4 choices (chance 25.0 %)", html);
        Assert.Contains("<td>child1</td><td>45.0 %</td><td>42.0 %</td><td>90.0 %</td>", html);
        Assert.Contains("<td>parent</td><td>50.0 %</td><td>40.0 %</td><td>100.0 %</td>", html);

        var text = ReportTable.Render(report);
        Assert.Contains("task heldout-next-span (acc / acc_norm, retention): parent 50.0 % / 40.0 % (100.0 %), child1 45.0 % / 42.0 % (90.0 %)", text);

        var without = ReportHtml.Render(new JsonObject(report.Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())))
        {
            ["models"] = new JsonArray(Model("parent", "parent", [])),
        }, null, [], [], new HashSet<string>());
        Assert.DoesNotContain("Multiple-choice tasks", without);
    }

    [Fact]
    public void The_model_card_lists_each_models_task_accuracy_and_retention()
    {
        var parentTasks = Tasks(0.5, 0.4);
        var card = ExportTestSupport.Card();
        card = card with
        {
            Report = card.Report.Select(e => e with
            {
                Raw = new JsonObject { ["tasks"] = TaskRetention.Rows(e.Kind == "parent" ? parentTasks : Tasks(0.45, 0.42), parentTasks) },
            }).ToList(),
        };
        ExportTestSupport.WriteChild(_dir["heal"], Heterogeneous());
        ChildExporter.Export(_dir["heal"], _dir["out"], new Engine.Pipeline.Spec.ExportSpec(), card);
        var readme = File.ReadAllText(_dir["out/README.md"]).ReplaceLineEndings("\n");
        Assert.Contains("## Multiple-choice tasks", readme);
        Assert.Contains("| model | task | questions | chance | acc | acc_norm | retention |", readme);
        Assert.Contains("| parent | heldout-next-span | 200 | 25.00% | 50.00% | 40.00% | 100.00% |", readme);
        Assert.Contains("| **child1** (this model) | heldout-next-span | 200 | 25.00% | 45.00% | 42.00% | 90.00% |", readme);
    }
}
