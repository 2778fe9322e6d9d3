using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Tests.Spec;

/// <summary>evaluation.tasks: task files are read when the spec loads, so a bad one stops the run before anything starts.</summary>
public sealed class EvaluationTasksSpecTests
{
    const string Head = "name: p\nparent: { pretrain: {} }\ndata: { npm: [{ package: a@1.0.0, files: x.txt }] }\n";

    [Fact]
    public void A_bad_task_file_is_a_spec_error_at_its_entry_naming_the_file_line_and_field()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["good.jsonl"], """{"query": "q", "choices": ["a", "b"], "gold": 1}""" + "\n");
        File.WriteAllText(dir["bad.jsonl"], """{"query": "q", "choices": ["a", "b"], "gold": 0}""" + "\n" + """{"query": "q", "choices": ["a", "b"]}""" + "\n");
        var yaml = Head + "evaluation:\n  tasks: [good.jsonl, bad.jsonl, missing.jsonl]\n";

        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "p.yaml", dir.Path));
        Assert.Equal(2, e.Errors.Count);
        Assert.StartsWith("p.yaml:5:23: error: evaluation.tasks[1]: ", e.Errors[0].ToString());
        Assert.Contains($"{Path.Combine(Path.GetFullPath(dir.Path), "bad.jsonl")}:2: no field for the gold index", e.Errors[0].ToString());
        Assert.StartsWith("p.yaml:5:34: error: evaluation.tasks[2]: ", e.Errors[1].ToString());
        Assert.Contains("task file not found", e.Errors[1].ToString());

        var ok = SpecLoader.Parse(Head + "evaluation:\n  tasks: [good.jsonl]\n  next_span: { examples: 50, choices: 5 }\n", "p.yaml", dir.Path);
        Assert.Equal(["good.jsonl"], ok.Evaluation.Tasks);
        Assert.Equal((50, 5, 8), (ok.Evaluation.NextSpan.Examples, ok.Evaluation.NextSpan.Choices, ok.Evaluation.NextSpan.SpanWords));
    }

    [Fact]
    public void The_held_out_task_is_on_by_default_and_a_file_may_not_take_its_name()
    {
        using var dir = new TempDir();
        Assert.Equal(200, SpecLoader.Parse(Head, "p.yaml", dir.Path).Evaluation.NextSpan.Examples);
        File.WriteAllText(dir["heldout-next-span.jsonl"], """{"query": "q", "choices": ["a", "b"], "gold": 1}""" + "\n");
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(Head + "evaluation: { tasks: [heldout-next-span.jsonl] }\n", "p.yaml", dir.Path));
        Assert.Contains("has the name of the task made from held-out text", e.Message);
        SpecLoader.Parse(Head + "evaluation: { tasks: [heldout-next-span.jsonl], next_span: { examples: 0 } }\n", "p.yaml", dir.Path);
    }
}
