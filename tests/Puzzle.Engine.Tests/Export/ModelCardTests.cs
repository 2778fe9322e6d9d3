using System.Text.Json.Nodes;
using Puzzle.Engine.Export;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Export;

/// <summary>What the model card and tokenizer_config.json claim in the Hugging Face ecosystem.</summary>
public sealed class ModelCardTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    string Export(ModelConfig config, ModelCardContext card, string to = "out")
    {
        ExportTestSupport.WriteChild(_dir["heal"], config);
        ChildExporter.Export(_dir["heal"], _dir[to], new ExportOptions(), card);
        return File.ReadAllText(_dir[$"{to}/README.md"]).ReplaceLineEndings("\n");
    }

    [Fact]
    public void A_nemotron_nas_card_claims_no_transformers_loading_and_says_what_loads_it()
    {
        var vllmServable = Heterogeneous() with
        {
            Blocks = [new(AttentionConfig.Gqa(4), FfnConfig.SwiGlu(256)), new(AttentionConfig.Gqa(1), FfnConfig.NoOp)],
        };

        var card = Export(vllmServable, ExportTestSupport.Card() with { MeasuredOn = "cpu: Intel(R) Xeon(R), 2 threads", Parent = "pretrained here", SeqLen = 64 });

        var front = card[..card.IndexOf("\n---\n", 4, StringComparison.Ordinal)];
        Assert.DoesNotContain("library_name", front);
        Assert.Contains("\nlicense: other", front);
        Assert.DoesNotContain("base_model", front);
        Assert.Contains("vLLM serves it with its own `DeciLMForCausalLM`; `configuration_decilm.py` beside config.json (its `auto_map`) builds the configuration", card);
        Assert.Contains("transformers alone has no DeciLM model to load it into", card);
        Assert.Contains("llm = LLM(model=\"path/to/this/folder\", trust_remote_code=True)", card);
        // the length it was trained at, not puzzle eval's default window of up to 256 within the positions config.json declares
        Assert.Contains("`puzzle eval --model path/to/this/folder --data text.txt --seq-len 64` (windows of the 64 tokens it was trained and evaluated at)", card);
        Assert.Contains("- license: not set: the parent's license applies; set `export.license`", card);
        Assert.Contains("on the same device (cpu: Intel(R) Xeon(R), 2 threads)", card);
        Assert.Contains("| speedup predicted | whole request | prefill | decode |", card);
        Assert.Contains("| 2.05× | 2.08× | 2.10× | 2.10× |", card);
        Assert.Contains($"- pipeline key: `{new string('a', 64)}` (the Report job's key", card);
    }

    /// <summary>The card says the model was trained by blockwise and global distillation; where the held-out guard undid
    /// training (the report's training warnings), the card says so too, as report.html does.</summary>
    [Fact]
    public void The_card_lists_the_training_the_held_out_guard_undid()
    {
        const string reverted = "child1: GKD raised held-out KL from 0.0000 to 24.2838; the assembled weights are published";
        var card = Export(Homogeneous(), ExportTestSupport.Card() with { TrainingWarnings = [reverted] });
        Assert.Contains("then global distillation from the parent.", card);
        Assert.Contains($"## Training that did not help\n\nTraining made these block variants and models worse on held-out text; each published its starting weights (the best it saw):\n\n- {reverted}\n", card);

        Assert.DoesNotContain("Training that did not help", Export(Homogeneous(), ExportTestSupport.Card(), to: "helped"));
    }

    [Fact]
    public void License_and_base_model_come_from_the_spec_and_a_llama_card_names_transformers()
    {
        var card = Export(Homogeneous(), ExportTestSupport.Card() with { License = "llama3.1", BaseModel = "meta-llama/Llama-3.1-8B" });

        Assert.StartsWith("---\nlibrary_name: transformers\nlicense: llama3.1\nbase_model: meta-llama/Llama-3.1-8B\nbase_model_relation: finetune\n", card);
        Assert.Contains("model = AutoModelForCausalLM.from_pretrained(\"path/to/this/folder\")", card);
    }

    [Fact]
    public void Tokenizer_config_limits_the_length_to_the_models_positions()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Heterogeneous()); // max_position_embeddings 512
        File.WriteAllText(_dir["heal/tokenizer_config.json"], """{"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "model_max_length": 1000000000}""");

        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card());

        var written = JsonNode.Parse(File.ReadAllText(_dir["out/tokenizer_config.json"]))!;
        Assert.Equal(512, (int)written["model_max_length"]!);
        Assert.Equal("<s>", (string?)written["bos_token"]);
        Assert.Equal(512, (int)JsonNode.Parse(File.ReadAllText(_dir["out/config.json"]))!["max_position_embeddings"]!);
    }
    /// <summary>vLLM and transformers take a model's default sampling (and the ids it stops at) from its
    /// generation_config.json: a child served from the export behaves as its parent did, not greedy or never stopping.</summary>
    [Fact]
    public void The_parents_generation_config_goes_with_the_child_as_it_is()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Homogeneous() with { BosTokenId = 1, EosTokenId = 2 });
        // Llama 3 Instruct's: config.json stops at end-of-text only; generation_config.json at end-of-turn too
        File.WriteAllText(_dir["heal/generation_config.json"],
            """{"bos_token_id": 1, "do_sample": true, "eos_token_id": [2, 7], "temperature": 0.6, "top_p": 0.9, "transformers_version": "5.17.0"}""");

        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card());

        var written = JsonNode.Parse(File.ReadAllText(_dir["out/generation_config.json"]))!.AsObject();
        Assert.Equal(["bos_token_id", "do_sample", "eos_token_id", "temperature", "top_p", "transformers_version"], written.Select(p => p.Key));
        Assert.Equal([2, 7], written["eos_token_id"]!.AsArray().Select(id => (int)id!));
        Assert.Equal(0.6, (double)written["temperature"]!);
        Assert.True((bool)written["do_sample"]!);

        // one without ids gets the model's
        File.WriteAllText(_dir["heal/generation_config.json"], """{"temperature": 0.7}""");
        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card());
        written = JsonNode.Parse(File.ReadAllText(_dir["out/generation_config.json"]))!.AsObject();
        Assert.Equal((0.7, 1, 2), ((double)written["temperature"]!, (int)written["bos_token_id"]!, (int)written["eos_token_id"]!));
    }

    /// <summary>transformers saves a chat template as chat_template.jinja beside tokenizer_config.json (since 4.47;
    /// transformers 5 only so), and vLLM's chat endpoint refuses a model without a template: the parent's goes with the
    /// child, byte for byte, and so does its special-tokens map.</summary>
    [Fact]
    public void The_parents_chat_template_file_and_special_tokens_map_go_with_the_child()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Homogeneous());
        Directory.CreateDirectory(_dir["parent"]);
        File.WriteAllText(_dir["parent/chat_template.jinja"],
            "{{- bos_token }}{#- “Cutting Knowledge Date” #}{%- for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{%- endfor %}\n");
        File.WriteAllText(_dir["parent/special_tokens_map.json"], """{"bos_token": "<s>", "eos_token": "</s>"}""");

        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card(), parentDirectory: _dir["parent"]);

        foreach (var file in new[] { "chat_template.jinja", "special_tokens_map.json" })
            Assert.Equal(File.ReadAllBytes(_dir[$"parent/{file}"]), File.ReadAllBytes(_dir[$"out/{file}"]));

        // a parent without them (one pretrained here) exports without them
        ChildExporter.Export(_dir["heal"], _dir["bare"], new ExportOptions(), ExportTestSupport.Card());
        Assert.All(ChildExporter.ParentTokenizerFiles, file => Assert.False(File.Exists(_dir[$"bare/{file}"]), file));
    }
}
