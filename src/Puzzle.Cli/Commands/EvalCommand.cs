using System.CommandLine;
using System.Text.Json;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Runtime;
using Spectre.Console;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle eval --model DIR [--teacher DIR] [--data FILE...] [--task FILE...] [--json OUT]</c></summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Hugging Face model folder (config.json, safetensors, tokenizer.json)", Required = true };
        var teacher = new Option<DirectoryInfo?>("--teacher") { Description = "teacher model folder: adds KL(teacher ‖ model) and top-1 agreement" };
        var data = new Option<string[]>("--data")
        {
            Description = "held-out text: .txt / .jsonl files or globs, or a token dataset folder (its evaluation part)",
            AllowMultipleArgumentsPerToken = true,
        };
        var task = new Option<string[]>("--task")
        {
            Description = "multiple-choice task file (JSON lines: query, choices, gold): accuracy by summed log-likelihood (acc) and per character (acc_norm); " +
                          "with a teacher also the teacher's and retention",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<FileInfo?>("--json") { Description = "also write the numbers as JSON to this file" }.ToWrite();
        var seqLen = new Option<int?>("--seq-len")
        {
            Description = "tokens per evaluated window of .txt / .jsonl text (a token dataset folder keeps its own sequence length); " +
                          $"default: {EvalJob.DefaultSeqLen}, or the model's max_position_embeddings where fewer",
        }.Whole();
        var batch = new Option<int>("--batch") { Description = "windows per forward pass", DefaultValueFactory = _ => 8 }.Whole();
        var maxSeqs = new Option<int?>("--max-sequences") { Description = "evaluate at most this many windows" }.Whole();
        var threads = new Option<int?>("--threads") { Description = "torch threads (default: all cores)" }.Whole();
        var device = DeviceOptions.Device();
        var dtype = DeviceOptions.DType();
        var command = new Command("eval", "Held-out LM loss, perplexity and top-1 accuracy, and multiple-choice task accuracy; with a teacher also KL, agreement and retention")
        {
            model, teacher, data, task, json, seqLen, batch, maxSeqs, threads, device, dtype,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(threads) is < 1) throw new ArgumentException($"--threads must be at least 1, got {parse.GetValue(threads)}");
            TorchRuntime.EnsureLoaded(parse.GetValue(threads));
            var request = new EvalRequest(parse.GetValue(model)!.FullName, parse.GetValue(teacher)?.FullName,
                parse.GetValue(data) ?? [], parse.GetValue(seqLen), parse.GetValue(batch), parse.GetValue(maxSeqs),
                DeviceOptions.Open(parse.GetValue(device), parse.GetValue(dtype)), parse.GetValue(task) ?? []);
            var result = EvalJob.Run(request, Console.Error.WriteLine);
            Print(result);
            if (parse.GetValue(json) is { } file) WriteJson(file.FullName, result);
            return 0;
        });
        return command;
    }

    static void Print(EvalResult r)
    {
        // a console over today's Console.Out: AnsiConsole's static one keeps the writer it first saw
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        if (r.Metrics is { } m)
        {
            var table = new Table().AddColumns("metric", "value");
            table.AddRow("tokens", m.Tokens.ToString("N0"));
            if (r.ShortWindowTokens is { } tail)
                table.AddRow("last window", $"{tail} tokens, shorter than seq_len + 1 = {r.SeqLen + 1} (the text's tail)");
            table.AddRow("loss (nats/token)", m.Loss.ToString("F4"));
            table.AddRow("perplexity", m.Perplexity.ToString("F2"));
            table.AddRow("top-1 accuracy", m.Top1.ToString("P2"));
            if (m.Kl is { } kl) table.AddRow("KL(teacher ‖ model)", kl.ToString("F4"));
            if (m.Agreement is { } agree) table.AddRow("top-1 agreement", agree.ToString("P2"));
            console.Write(table);
        }
        if (r.Tasks.Count == 0) return;
        var tasks = new Table().AddColumns("task", "questions", "chance", "acc", "acc_norm (per char)");
        var teacher = r.Tasks.Any(t => t.Teacher is not null);
        if (teacher) tasks.AddColumns("teacher acc", "teacher acc_norm", "retention");
        foreach (var t in r.Tasks)
        {
            var cells = new List<string> { Markup.Escape(t.Model.Name), t.Model.Examples.ToString("N0"), t.Model.Chance.ToString("P1"), t.Model.Accuracy.ToString("P2"), t.Model.AccuracyNorm.ToString("P2") };
            if (teacher) cells.AddRange([t.Teacher?.Accuracy.ToString("P2") ?? "", t.Teacher?.AccuracyNorm.ToString("P2") ?? "", t.Retention?.ToString("P1") ?? "–"]);
            tasks.AddRow(cells.ToArray());
        }
        console.Write(tasks);
    }

    static void WriteJson(string path, EvalResult r)
    {
        var doc = new
        {
            model = r.Request.Model, teacher = r.Request.Teacher, data = r.Request.Data, seq_len = r.SeqLen,
            tokens = r.Metrics?.Tokens, short_window_tokens = r.ShortWindowTokens, loss = r.Metrics?.Loss, perplexity = r.Metrics?.Perplexity, top1 = r.Metrics?.Top1,
            kl = r.Metrics?.Kl, agreement = r.Metrics?.Agreement,
            tasks = r.Tasks.Select(t => new
            {
                name = t.Model.Name, examples = t.Model.Examples, choices = t.Model.Choices, chance = t.Model.Chance,
                accuracy = t.Model.Accuracy, accuracy_norm = t.Model.AccuracyNorm,
                teacher_accuracy = t.Teacher?.Accuracy, teacher_accuracy_norm = t.Teacher?.AccuracyNorm,
                retention = t.Retention, retention_norm = t.RetentionNorm,
            }).ToList(),
        };
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
