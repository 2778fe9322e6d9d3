using System.Text.Json;

namespace Puzzle.Engine.Tests.Cli;

[Collection(nameof(ConsoleCollection))]
public class EvalCommandTests
{
    static string WriteHeldoutText(TempDir dir)
    {
        var texts = Fixtures.Reference.GetProperty("texts");
        var path = dir["heldout.txt"];
        File.WriteAllText(path, texts.GetProperty("long").GetProperty("text").GetString() + "\n" + texts.GetProperty("short").GetProperty("text").GetString());
        return path;
    }

    [Fact]
    public void A_folder_given_as_the_file_to_write_is_refused_before_any_work_naming_the_option()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["out"]);
        using var repo = new Pipeline.TestRepo(Pipeline.TestRepo.MicroSpec);

        foreach (var (args, option) in new[]
                 {
                     (new[] { "eval", "--model", Fixtures.HfLlamaTiny, "--data", WriteHeldoutText(dir), "--json", dir["out"] }, "--json"),
                     (new[] { "logits", "--model", Fixtures.HfLlamaTiny, "--ids", dir["ids.json"], "--out", dir["out"] }, "--out"),
                     (new[] { "run", repo.SpecPath, "--target", "Tokenizer", "--summary", dir["out"] }, "--summary"),
                 })
        {
            var (exit, _, err) = CliRunner.Run(args);
            Assert.Equal(1, exit);
            Assert.Contains($"{option} {dir["out"]} is a folder; give the file to write", err);
        }
        Assert.False(Directory.Exists(repo.Store), "no job may have run");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-2")]
    public void A_thread_count_below_one_is_refused_naming_the_option(string threads)
    {
        using var dir = new TempDir();
        foreach (var args in new[]
                 {
                     new[] { "eval", "--model", Fixtures.HfLlamaTiny, "--data", WriteHeldoutText(dir), "--threads", threads },
                     ["logits", "--model", Fixtures.HfLlamaTiny, "--ids", dir["ids.json"], "--out", dir["logits.safetensors"], "--threads", threads],
                 })
        {
            var (exit, stdout, err) = CliRunner.Run(args);
            Assert.Equal(1, exit);
            Assert.Contains($"error: --threads must be at least 1, got {threads}", err);
            Assert.Empty(stdout);
        }
    }

    [Fact]
    public void Windows_longer_than_the_models_positions_are_refused_before_any_weights_load_and_the_default_stays_within_them()
    {
        using var dir = new TempDir();
        var (exit, stdout, err) = CliRunner.Run("eval", "--model", Fixtures.HfLlamaTiny, "--data", WriteHeldoutText(dir), "--seq-len", "600");
        Assert.Equal(1, exit);
        Assert.Contains($"error: --seq-len 600 is beyond the max_position_embeddings 512 of {Fixtures.HfLlamaTiny}: " +
                        "it was not trained on positions past them; use at most 512", err);
        Assert.Empty(stdout);

        // a model trained on fewer positions than the default 256 (a small parent pretrained on short sequences):
        // without --seq-len its windows are as long as its positions, as `puzzle show` suggests running it
        var model = dir["short"];
        Directory.CreateDirectory(model);
        foreach (var file in Directory.GetFiles(Fixtures.HfLlamaTiny)) File.Copy(file, Path.Combine(model, Path.GetFileName(file)));
        var config = Path.Combine(model, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"max_position_embeddings\": 512", "\"max_position_embeddings\": 48"));
        (exit, _, err) = CliRunner.Run("eval", "--model", model, "--data", WriteHeldoutText(dir), "--json", dir["eval.json"]);
        Assert.True(exit == 0, err);
        Assert.Equal(48, JsonDocument.Parse(File.ReadAllText(dir["eval.json"])).RootElement.GetProperty("seq_len").GetInt32());
    }

    [Fact]
    public void Eval_prints_a_table_and_writes_the_same_numbers_as_json()
    {
        using var dir = new TempDir();
        var (exit, stdout, stderr) = CliRunner.Run("eval", "--model", Fixtures.HfLlamaTiny, "--teacher", Fixtures.HfLlamaTiny,
            "--data", WriteHeldoutText(dir), "--seq-len", "64", "--json", dir["out/eval.json"]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("perplexity", stdout);
        Assert.Contains("top-1 agreement", stdout);
        var json = JsonDocument.Parse(File.ReadAllText(dir["out/eval.json"])).RootElement;
        Assert.Equal(64, json.GetProperty("seq_len").GetInt32());
        Assert.True(json.GetProperty("tokens").GetInt64() >= 64 * 3);
        var loss = json.GetProperty("loss").GetDouble();
        Assert.InRange(loss, 10, 14); // a random-weight 32k-vocabulary model: loss near ln(32000) ≈ 10.4 or above
        Assert.Equal(Math.Exp(loss), json.GetProperty("perplexity").GetDouble(), 6);
        Assert.Equal(0, json.GetProperty("kl").GetDouble(), 6);
        Assert.Equal(1, json.GetProperty("agreement").GetDouble());
        Assert.Contains(loss.ToString("F4"), stdout);
    }

    [Theory]
    [InlineData(256)] // the whole text is shorter than one window
    [InlineData(16)]  // whole windows and a shorter tail
    public void Every_token_of_the_text_is_evaluated_the_tail_in_a_shorter_last_window_that_the_output_names(int seqLen)
    {
        using var dir = new TempDir();
        var text = Fixtures.Reference.GetProperty("texts").GetProperty("short").GetProperty("text").GetString()!;
        File.WriteAllText(dir["short.txt"], text);
        using var tokenizer = Puzzle.Engine.Tokenization.Tokenizer.Load(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"));
        var stream = tokenizer.Encode(text, addBos: true).Length + 1; // BOS ... EOS, as the data stage packs documents
        Assert.True(stream < 257 && stream % (seqLen + 1) > 1, $"the fixture text gives {stream} tokens");

        var (exit, stdout, stderr) = CliRunner.Run("eval", "--model", Fixtures.HfLlamaTiny, "--data", dir["short.txt"],
            "--seq-len", seqLen.ToString(), "--json", dir["eval.json"]);

        Assert.True(exit == 0, stderr);
        var json = JsonDocument.Parse(File.ReadAllText(dir["eval.json"])).RootElement;
        var whole = stream / (seqLen + 1);
        var tail = stream % (seqLen + 1);
        Assert.Equal(whole * seqLen + tail - 1, json.GetProperty("tokens").GetInt64());
        Assert.Equal(tail, json.GetProperty("short_window_tokens").GetInt32());
        Assert.Contains("last window", stdout);
        Assert.Contains($"last {tail} tokens form a shorter last window", stderr);
    }

    [Fact]
    public void Eval_scores_a_task_file_and_against_a_teacher_gives_its_accuracy_and_retention()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["story.jsonl"],
            "{\"query\": \"Call me Ishmael. Some years ago\", \"choices\": [\"never mind how long\", \"the whale\"], \"gold\": 0}\n" +
            "{\"ctx\": \"It is a way I have of\", \"endings\": [\"blue\", \"driving off the spleen\", \"and\"], \"label\": 1}\n");
        var (exit, stdout, stderr) = CliRunner.Run("eval", "--model", Fixtures.HfLlamaTiny, "--teacher", Fixtures.HfLlamaTiny,
            "--task", dir["story.jsonl"], "--json", dir["eval.json"]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("acc_norm", stdout);
        var task = Assert.Single(JsonDocument.Parse(File.ReadAllText(dir["eval.json"])).RootElement.GetProperty("tasks").EnumerateArray());
        Assert.Equal("story", task.GetProperty("name").GetString());
        Assert.Equal(2, task.GetProperty("examples").GetInt32());
        Assert.Equal(task.GetProperty("accuracy").GetDouble(), task.GetProperty("teacher_accuracy").GetDouble()); // the same model twice
        if (task.GetProperty("accuracy").GetDouble() > 0) Assert.Equal(1.0, task.GetProperty("retention").GetDouble());

        File.AppendAllText(dir["story.jsonl"], "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 5}\n");
        var bad = CliRunner.Run("eval", "--model", Fixtures.HfLlamaTiny, "--task", dir["story.jsonl"]);
        Assert.Equal(1, bad.Exit);
        Assert.Contains($"{dir["story.jsonl"]}:3: field 'gold' is 5", bad.Err);
    }

    /// <summary>A token dataset folder is evaluated in its own sequences (EvalJob reads them whole), so --seq-len, which
    /// cuts text files into windows, says it does not apply there.</summary>
    [Fact]
    public void Seq_len_help_says_a_token_dataset_keeps_its_own_length()
    {
        var (exit, help, _) = CliRunner.Run("eval", "--help");
        Assert.Equal(0, exit);
        var line = System.Text.RegularExpressions.Regex.Replace(help[help.IndexOf("--seq-len", StringComparison.Ordinal)..], @"\s+", " ");
        Assert.StartsWith("--seq-len <seq-len> tokens per evaluated window of .txt / .jsonl text (a token dataset folder keeps its own sequence length)", line);
    }

    [Fact]
    public void A_missing_model_folder_is_a_clear_error()
    {
        using var dir = new TempDir();
        var (exit, _, stderr) = CliRunner.Run("eval", "--model", dir["nope"], "--data", WriteHeldoutText(dir));
        Assert.Equal(1, exit);
        Assert.Contains(dir["nope"], stderr);
        Assert.Contains("not found", stderr);
    }

    [Fact]
    public void Data_that_matches_nothing_is_a_clear_error()
    {
        var (exit, _, stderr) = CliRunner.Run("eval", "--model", Fixtures.HfLlamaTiny, "--data", "/no/such/dir/*.txt");
        Assert.Equal(1, exit);
        Assert.Contains("/no/such/dir/*.txt", stderr);
    }

    [Fact]
    public void A_corrupt_checkpoint_is_named_in_the_error_and_writes_no_json()
    {
        using var dir = new TempDir();
        var model = dir["model"];
        Directory.CreateDirectory(model);
        foreach (var f in Directory.GetFiles(Fixtures.HfLlamaTiny)) File.Copy(f, Path.Combine(model, Path.GetFileName(f)));
        var shard = Path.Combine(model, "model-00002-of-00003.safetensors");
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..(bytes.Length / 2)]);
        var (exit, _, stderr) = CliRunner.Run("eval", "--model", model, "--data", WriteHeldoutText(dir), "--json", dir["eval.json"]);
        Assert.Equal(1, exit);
        Assert.Contains("model-00002-of-00003.safetensors", stderr);
        Assert.False(File.Exists(dir["eval.json"]));
    }

    [Theory]
    [InlineData("eval", "--data", "x.txt")]                               // --model missing
    [InlineData("eval", "--model", "m", "--data", "x.txt", "--batch", "many")] // not a number
    [InlineData("frobnicate")]                                          // unknown verb
    public void Bad_arguments_exit_non_zero(params string[] args)
    {
        var (exit, _, _) = CliRunner.Run(args);
        Assert.NotEqual(0, exit);
    }

    [Fact]
    public void Out_of_range_values_are_named()
    {
        var (exit, _, stderr) = CliRunner.Run("eval", "--model", Fixtures.HfLlamaTiny, "--data", "x.txt", "--seq-len", "1");
        Assert.Equal(1, exit);
        Assert.Contains("--seq-len", stderr);
    }
}
