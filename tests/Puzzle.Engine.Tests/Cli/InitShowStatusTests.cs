using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tests.Pipeline;

namespace Puzzle.Engine.Tests.Cli;

/// <summary>The verbs a newcomer reaches for: init a spec, show a job's output, read the status of a changed pipeline.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class InitShowStatusTests
{
    [Fact]
    public void Init_from_a_parent_folder_writes_a_commented_spec_that_loads_with_the_parents_kv_heads()
    {
        using var dir = new TempDir();
        TestParents.Tiny(dir["models/tiny-llama"]); // 2 KV heads

        var (exit, output, err) = CliRunner.Run("init", dir["models/tiny-llama"], "--dir", dir.Path);

        Assert.True(exit == 0, err);
        Assert.StartsWith("wrote pipelines/tiny-llama.yaml", output);
        var text = File.ReadAllText(dir["pipelines/tiny-llama.yaml"]);
        Assert.Contains("path: models/tiny-llama    # a Hugging Face Llama-family folder: 3 layers, hidden 64, 4 heads, 2 KV heads", text);
        Assert.Contains("attention: { kv_heads: [1], linear: true, no_op: true }", text);
        var spec = SpecLoader.Load(dir["pipelines/tiny-llama.yaml"]);
        Assert.Equal("tiny-llama", spec.Name);
        Assert.Equal("models/tiny-llama", spec.Parent.Path);
        Assert.Equal(SpecSchema.Generate(), File.ReadAllText(dir["pipelines/puzzle-pipeline.schema.json"])); // what its first line names

        var (again, _, refused) = CliRunner.Run("init", dir["models/tiny-llama"], "--dir", dir.Path);
        Assert.Equal(1, again);
        Assert.Contains("exists", refused);
        Assert.Empty(Directory.GetFiles(dir["pipelines"], "*.tmp-*"));
    }

    [Fact]
    public void Init_from_a_mistral_folder_without_a_sliding_window_writes_a_spec_and_refuses_one_with_a_window()
    {
        using var dir = new TempDir();
        TestParents.Tiny(dir["models/tiny-mistral"]);
        TestParents.Mistral(dir["models/tiny-mistral"]);

        var (exit, output, err) = CliRunner.Run("init", dir["models/tiny-mistral"], "--dir", dir.Path);

        Assert.True(exit == 0, err);
        Assert.StartsWith("wrote pipelines/tiny-mistral.yaml", output);
        Assert.Contains("3 layers, hidden 64, 4 heads, 2 KV heads", File.ReadAllText(dir["pipelines/tiny-mistral.yaml"]));
        Assert.Equal("models/tiny-mistral", SpecLoader.Load(dir["pipelines/tiny-mistral.yaml"]).Parent.Path);

        var config = dir["models/tiny-mistral/config.json"];
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"sliding_window\":null", "\"sliding_window\":128"));
        var (refused, _, said) = CliRunner.Run("init", dir["models/tiny-mistral"], "--dir", dir.Path, "--name", "windowed");
        Assert.Equal(1, refused);
        Assert.Contains("field 'sliding_window' is 128, below max_position_embeddings 512", said);
        Assert.Contains("attention over a window is not implemented", said);
    }

    [Fact]
    public void Init_for_a_gpu_writes_a_cuda_spec_with_the_budgets_a_1b_parent_ran_and_the_parents_size()
    {
        using var dir = new TempDir();
        TestParents.Tiny(dir["models/tiny-llama"]);

        var (exit, _, err) = CliRunner.Run("init", dir["models/tiny-llama"], "--dir", dir.Path, "--device", "cuda");

        Assert.True(exit == 0, err);
        var text = File.ReadAllText(dir["pipelines/tiny-llama.yaml"]);
        // the size under the shape, its '#' under the shape's
        var lines = text.Split('\n');
        var shape = Array.FindIndex(lines, l => l.StartsWith("  path: models/tiny-llama", StringComparison.Ordinal));
        Assert.Equal(lines[shape].IndexOf('#'), lines[shape + 1].IndexOf('#'));
        Assert.Matches(@"^ +# 4\.\d+M parameters, \d+\.\d MB in bfloat16 \(docs/scale\.md: what fits where\)$", lines[shape + 1]);
        var spec = SpecLoader.Load(dir["pipelines/tiny-llama.yaml"]);
        Assert.Equal(Engine.Runtime.DeviceKind.Cuda, spec.Device);
        Assert.Null(spec.Scenario.Device); // timed where it computes
        // as a serving runtime decodes: the costs that predicted every speedup within 1% on an H200, where eager timing
        // measured kernel launches
        Assert.Equal(Engine.Cost.TimingRuntime.CudaGraphs, spec.Scenario.Runtime);
        Assert.Equal((1_048_576L, 1_048_576L, 65_536L, 65_536L, 512), (spec.Bld.Training.Tokens, spec.Gkd.Training.Tokens, spec.Scoring.Tokens, spec.Evaluation.Tokens, spec.Data.SeqLen));
        Assert.Equal((8, 384, 128), (spec.Scenario.Batch, spec.Scenario.Prompt, spec.Scenario.Generate)); // within the parent's 512 positions
        Assert.Equal(Engine.Export.ExportDType.Bfloat16, spec.Export.Dtype);
        // a child a serving engine loads: vLLM has no linear replacements
        Assert.Equal((Engine.Export.ExportRuntime.Vllm, false, false), (spec.Export.Runtime, spec.SearchSpace.Attention.Linear, spec.SearchSpace.Ffn.Linear));
        // a tenth held out: with the fixture's tokenizer 141,824 selection and 115,712 evaluation tokens, over both 65,536 budgets
        Assert.Equal(0.1, spec.Data.HeldoutFraction);

        // --device cpu writes the CPU-sized spec, which is also the default where no GPU is seen
        Assert.Equal(0, CliRunner.Run("init", dir["models/tiny-llama"], "--dir", dir.Path, "--device", "cpu", "--name", "cpu").Exit);
        var cpu = SpecLoader.Load(dir["pipelines/cpu.yaml"]);
        Assert.Equal((Engine.Runtime.DeviceKind.Cpu, 60_000L, 128), (cpu.Device, cpu.Bld.Training.Tokens, cpu.Data.SeqLen));
        Assert.Matches(@"parameters, \d+\.\d MB in float32", File.ReadAllText(dir["pipelines/cpu.yaml"]));
        var (bad, _, said) = CliRunner.Run("init", dir["models/tiny-llama"], "--dir", dir.Path, "--device", "gpu", "--name", "bad");
        Assert.NotEqual(0, bad);
        Assert.Contains("gpu", said);
        Assert.False(File.Exists(dir["pipelines/bad.yaml"]));
    }

    [Fact]
    public void Init_for_a_real_size_parent_on_a_cpu_writes_the_1b_cpu_checks_budgets_and_says_so()
    {
        using var dir = new TempDir();
        // Llama-3.2-1B's shape, 1.24B parameters (weights whose header init checks, their bytes a hole), beside the 1B
        // CPU check's spec and text
        var oneB = ModelConfig.Llama(vocab: 128256, hidden: 2048, layers: 16, heads: 32, kvHeads: 8, intermediate: 8192, tie: true);
        TestParents.HeaderOnly(oneB, dir["parent-1b"]);
        SyntheticText.WriteCorpus(dir["text"], files: 2, sentences: 20);
        File.Copy(Path.Combine(TestRepo.Source, "examples", "gpu", "scale1b-cpu.yaml"), dir["scale1b-cpu.yaml"]);
        var check = SpecLoader.Load(dir["scale1b-cpu.yaml"]); // which docs/scale.md ran to Publish

        Assert.Equal(0, CliRunner.Run("init", dir["parent-1b"], "--dir", dir.Path, "--device", "cpu", "--name", "llama-1b").Exit);

        var text = File.ReadAllText(dir["pipelines/llama-1b.yaml"]);
        Assert.Contains("# Sized for a real-size parent on a CPU", text);
        Assert.Contains("this parent has 1.24B", text);
        var spec = SpecLoader.Load(dir["pipelines/llama-1b.yaml"]);
        Assert.Equal((check.Bld.Training.Tokens, check.Gkd.Training.Tokens, check.Scoring.Tokens, check.Evaluation.Tokens, check.Data.SeqLen),
            (spec.Bld.Training.Tokens, spec.Gkd.Training.Tokens, spec.Scoring.Tokens, spec.Evaluation.Tokens, spec.Data.SeqLen));
        Assert.Equal((check.Scenario.Batch, check.Scenario.Prompt, check.Scenario.Generate, check.Scenario.Repeats),
            (spec.Scenario.Batch, spec.Scenario.Prompt, spec.Scenario.Generate, spec.Scenario.Repeats));
        Assert.Equal(check.SearchSpace.Attention.KvHeads, spec.SearchSpace.Attention.KvHeads);
        Assert.Equal((false, false), (spec.SearchSpace.Attention.Linear, spec.SearchSpace.Ffn.Linear));
        Assert.Equal((0, 1), (spec.Evaluation.NextSpan.Examples, spec.Executor.Jobs));

        // the same parent on a GPU gets the GPU's budgets, and a small one on a CPU the CPU's (above)
        Assert.Equal(0, CliRunner.Run("init", dir["parent-1b"], "--dir", dir.Path, "--device", "cuda", "--name", "gpu").Exit);
        Assert.DoesNotContain("real-size", File.ReadAllText(dir["pipelines/gpu.yaml"]));
        Assert.Equal(1_048_576L, SpecLoader.Load(dir["pipelines/gpu.yaml"]).Bld.Training.Tokens);
    }

    [Fact]
    public void Init_for_a_parent_this_machine_cannot_hold_says_so_beside_the_spec_it_writes()
    {
        if (Engine.Pipeline.Graph.PlanMemory.Of(Engine.Runtime.DeviceKind.Cpu) > 300_000_000_000) return; // 70.55B float32 parameters fit this machine
        using var dir = new TempDir();
        // Llama-3.1-70B's shape (weights whose header init checks, their 141 GB a hole)
        var seventyB = ModelConfig.Llama(vocab: 128256, hidden: 8192, layers: 80, heads: 64, kvHeads: 8, intermediate: 28672, tie: false);
        TestParents.HeaderOnly(seventyB, dir["parent-70b"]);

        var (exit, output, _) = CliRunner.Run("init", dir["parent-70b"], "--dir", dir.Path, "--device", "cpu", "--name", "llama-70b");

        Assert.Equal(0, exit);
        Assert.True(File.Exists(dir["pipelines/llama-70b.yaml"]));
        Assert.Contains("warning: the parent's weights, 70.55B parameters in float32, 262.83 GiB alone need more memory than this machine's ", output);
    }

    [Fact]
    public void Init_offers_only_ffn_ratios_whose_rounded_widths_differ()
    {
        using var dir = new TempDir();
        // an FFN 128 wide: 0.5 and 0.25 both round to 64 (round_to 64), so one ratio is offered
        var config = ModelConfig.Llama(vocab: 32000, hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, tie: true);
        TestParents.HeaderOnly(config, dir["narrow"]);

        Assert.Equal(0, CliRunner.Run("init", dir["narrow"], "--dir", dir.Path, "--device", "cpu").Exit);

        Assert.Equal([0.5], SpecLoader.Load(dir["pipelines/narrow.yaml"]).SearchSpace.Ffn.Ratios);
    }

    [Fact]
    public void Init_without_a_parent_pretrains_one_and_loads()
    {
        using var dir = new TempDir();

        Assert.Equal(0, CliRunner.Run("init", "--dir", dir.Path, "--name", "first").Exit);

        var spec = SpecLoader.Load(dir["pipelines/first.yaml"]);
        Assert.NotNull(spec.Parent.Pretrain);
        Assert.Equal([2, 1], spec.SearchSpace.Attention.KvHeads);
    }

    [Fact]
    public void Show_tells_where_a_jobs_output_lies_with_its_metrics_and_log()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Parent", "--in-process").Exit);

        var (exit, output, err) = CliRunner.Run("show", repo.SpecPath, "Data/tokens");

        Assert.True(exit == 0, err);
        var key = repo.Load() is var spec ? Engine.Pipeline.PipelineSession.Open(spec).Graph.Find("Data", "tokens").Key : "";
        Assert.StartsWith("Data/tokens: cached\n", output.ReplaceLineEndings("\n"));
        Assert.Contains($"  output    {Path.Combine(repo.Store, "cache", key[..2], key)}", output);
        Assert.Contains("  metrics", output);
        Assert.Contains($"  log       {Path.Combine(repo.Store, "logs", "test", "Data", "tokens.log")}", output);
        var parentKey = Engine.Pipeline.PipelineSession.Open(repo.SpecPath).Graph.Find("Parent", "parent").Key;
        var (_, parent, _) = CliRunner.Run("show", repo.SpecPath, "Parent/parent");
        Assert.Contains($"  evaluate  puzzle eval --model {Path.Combine(repo.Store, "cache", parentKey[..2], parentKey, "model")} --data ", parent);
        // the length it was trained at (data.seq_len), not puzzle eval's default of 256 within the 64 positions it declares
        Assert.Contains(" --data YOUR_TEXT.txt --seq-len 16\n", parent.ReplaceLineEndings("\n"));
        var (_, missing, _) = CliRunner.Run("show", repo.SpecPath, "Heal/child1");
        Assert.Contains("Heal/child1: missing (never built)", missing);
        Assert.Contains("output    none yet: puzzle run", missing);
        var (bad, _, badErr) = CliRunner.Run("show", repo.SpecPath, "Data/token");
        Assert.Equal(1, bad);
        Assert.Contains("stage Data has no job 'token'; its jobs: tokens", badErr);
    }

    [Fact]
    public void Show_gives_the_puzzle_eval_command_that_reproduces_an_evaluate_jobs_numbers()
    {
        // puzzle eval --data DATASET reads the whole evaluation part; Evaluate reads evaluation.tokens of it (400 of the
        // micro spec's): the command show gives reads the same sequences and gives the same numbers
        using var repo = new TestRepo(TestRepo.MicroSpec);
        File.WriteAllText(Path.Combine(repo.Root, "mine.jsonl"), string.Concat(Enumerable.Range(0, 6).Select(i =>
            $"{{\"query\": \"The sea was calm and the ship {i}\", \"choices\": [\"sailed on\", \"was a whale\", \"ate bread\"], \"gold\": {i % 3}}}\n")));
        repo.Edit("  tokens: 400", "  tokens: 400\n  tasks: [mine.jsonl]");
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Parent", "--in-process").Exit);
        Assert.Equal(0, CliRunner.Run("job", repo.SpecPath, "--stage", "Evaluate", "--id", "parent").Exit);

        var (_, shown, _) = CliRunner.Run("show", repo.SpecPath, "Evaluate/parent");

        var line = shown.ReplaceLineEndings("\n").Split('\n').SingleOrDefault(l => l.StartsWith("  reproduce puzzle eval ", StringComparison.Ordinal));
        Assert.True(line is not null, shown);
        Assert.Matches(" --max-sequences 25( |$)", line); // 400 tokens / seq_len 16
        var json = Path.Combine(repo.Root, "eval.json");
        var (exit, _, err) = CliRunner.Run([.. line["  reproduce puzzle ".Length..].Split(' '), "--json", json]);
        Assert.True(exit == 0, err);
        var session = Engine.Pipeline.PipelineSession.Open(repo.SpecPath);
        var evaluated = Engine.Pipeline.Stages.EvaluateStage.EvaluationMetrics.Read(session.Store.Find(session.Graph.Find("Evaluate", "parent").Key)!.Directory);
        var measured = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(json))!;
        Assert.Equal(evaluated.Tokens, (long)measured["tokens"]!);
        Assert.Equal(evaluated.Loss, (double)measured["loss"]!);
        Assert.Equal(evaluated.Top1, (double)measured["top1"]!);
        Assert.Contains($" --task {Path.Combine(repo.Root, "mine.jsonl")}", line);
        var task = Assert.Single(evaluated.Tasks);
        Assert.Equal(task.Accuracy, (double)measured["tasks"]![0]!["accuracy"]!);
        Assert.Equal(task.AccuracyNorm, (double)measured["tasks"]![0]!["accuracy_norm"]!);
    }

    [Fact]
    public void Status_summarises_stale_jobs_per_stage_whole_when_piped_and_details_on_request()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process").Exit);
        repo.Edit("seq_len: 16", "seq_len: 24");

        var (exit, output, _) = CliRunner.Run("status", repo.SpecPath);

        Assert.Equal(0, exit);
        var lines = output.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^stage\s+jobs\s+cached\s+stale\s+missing\s+why$", lines[0]);
        Assert.Matches(@"^Data\s+1\s+0\s+1\s+0\s+config changed: data\.seq_len$", lines.Single(l => l.StartsWith("Data ", StringComparison.Ordinal)));
        Assert.Matches(@"^Distill\s+\d+\s+0\s+0\s+\d+\s+never built$", lines.Single(l => l.StartsWith("Distill ", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.StartsWith("per job: puzzle status ", StringComparison.Ordinal) && l.Contains("--verbose"));
        Assert.True(lines.Length < 25, "one line per stage, not per job");

        var (_, one, _) = CliRunner.Run("status", repo.SpecPath, "Data/tokens");
        Assert.Matches(@"Data/tokens\s+stale\s+config changed: data\.seq_len", one);
        var (_, all, _) = CliRunner.Run("status", repo.SpecPath, "--verbose");
        Assert.Contains(all.Split('\n'), l => l.StartsWith("Distill/layer0.ffn.linear ", StringComparison.Ordinal) && l.Contains("never built"));
        Assert.DoesNotContain(all.Split('\n'), l => l.Length > 0 && l.Trim().Length == 0);
        Assert.DoesNotContain("no store at", all);

        // a --store that names no store says so, rather than only that nothing was built
        var typo = Path.Combine(repo.Root, ".puzle");
        var (_, elsewhere, _) = CliRunner.Run("status", repo.SpecPath, "--store", typo);
        Assert.Matches(@"Data\s+1\s+0\s+0\s+1\s+never built", elsewhere);
        Assert.Contains($"no store at {typo} yet: nothing was built there", elsewhere);
        Assert.False(Directory.Exists(typo)); // status creates nothing
    }

    [Fact]
    public void Status_names_a_damaged_cache_entry_and_what_is_wrong_with_it()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        Assert.Equal(0, CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process").Exit);
        var store = new Engine.Pipeline.Cache.CacheStore(repo.Store);
        var graph = Engine.Pipeline.PipelineSession.Open(repo.SpecPath).Graph;
        var tokens = store.EntryDirectory(graph.Find("Data", "tokens").Key);
        var shard = Directory.GetFiles(Path.Combine(tokens, "dataset"), "train-*.tokens")[0];
        File.Delete(shard); // half-deleted by hand
        var manifest = Path.Combine(store.EntryDirectory(graph.Find("Tokenizer", "tokenizer").Key), "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest)[..40]); // cut short

        var (exit, output, _) = CliRunner.Run("status", repo.SpecPath, "--verbose");

        Assert.Equal(0, exit);
        Assert.Matches(@"Tokenizer/tokenizer\s+missing\s+its cache entry is damaged \(manifest\.json: unreadable\); a run builds it again", output);
        Assert.Contains($"its cache entry is damaged (dataset/{Path.GetFileName(shard)}: file missing); a run builds it again",
            output.Split('\n').Single(l => l.StartsWith("Data/tokens ", StringComparison.Ordinal)));
    }
}
