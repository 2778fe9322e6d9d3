using System.Diagnostics;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Tests.Checkpoints;

namespace Puzzle.Engine.Tests.Export;

/// <summary>
/// A nemotron-nas folder carries configuration_decilm.py, which its config.json names in auto_map, and which gives
/// each layer's block the attributes vLLM's DeciLMForCausalLM reads. transformers cannot be installed on this project's
/// machines (no Python packages reach them), so the code runs here against a stand-in LlamaConfig that keeps its keyword
/// arguments as attributes, as transformers' does, and checks the types transformers 5's strict LlamaConfig checks (on
/// an H200 with transformers 5.17, a null intermediate_size failed there: "expected int, got NoneType"); the GPU
/// check's machine has transformers itself.
/// </summary>
public sealed class DeciLMConfigCodeTests
{
    const string StandIn = """
        NONE = type(None)
        FIELDS = {"vocab_size": (int,), "hidden_size": (int,), "intermediate_size": (int,), "num_hidden_layers": (int,),
                  "num_attention_heads": (int,), "num_key_value_heads": (int, NONE), "hidden_act": (str,),
                  "max_position_embeddings": (int,), "use_cache": (bool,), "bos_token_id": (int, NONE),
                  "eos_token_id": (int, list, NONE), "tie_word_embeddings": (bool,), "attention_bias": (bool,),
                  "mlp_bias": (bool,), "head_dim": (int, NONE)}

        class LlamaConfig:
            def __init__(self, **kwargs):
                for name, types in FIELDS.items():
                    if name in kwargs and not isinstance(kwargs[name], types):
                        raise TypeError(f"Field '{name}' expected {types}, got {type(kwargs[name]).__name__}")
                self.__dict__.update(kwargs)
            def to_dict(self):
                return dict(self.__dict__)
        """;

    // as vllm/model_executor/models/nemotron_nas.py (DeciLMDecoderLayer) and vLLM's kv-head lookup read the blocks
    const string AsVllmReads = """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        from configuration_decilm import DeciLMConfig
        raw = json.load(open(sys.argv[1] + "/config.json"))
        assert raw["auto_map"]["AutoConfig"] == "configuration_decilm.DeciLMConfig"
        config = DeciLMConfig(**{k: v for k, v in raw.items() if k not in ("auto_map", "model_type")})
        for block in config.block_configs:
            attention = "no_op" if block.attention.no_op else "linear" if block.attention.replace_with_linear else \
                config.num_attention_heads // block.attention.n_heads_in_group
            if block.ffn.no_op: ffn = "no_op"
            elif block.ffn.replace_with_linear: ffn = "linear"
            else:
                assert not hasattr(block.ffn, "ffn_mult")  # else vLLM rounds the width up to a multiple of 256
                ffn = block.ffn.intermediate_size
            print(attention, ffn)
        assert raw["intermediate_size"] is None and config.intermediate_size == max(
            b["ffn"]["intermediate_size"] or 0 for b in raw["block_configs"]), config.intermediate_size
        again = DeciLMConfig(**{k: v for k, v in config.to_dict().items() if k != "model_type"})
        assert [b.to_dict() for b in again.block_configs] == raw["block_configs"], "to_dict keeps every key, ffn_mult too"
        """;

    [Fact]
    public void A_nemotron_nas_folder_carries_configuration_code_that_gives_each_block_as_vllm_reads_it()
    {
        using var dir = new TempDir();
        var config = CheckpointTestSupport.Heterogeneous();
        ExportTestSupport.WriteChild(dir["child"], config);
        var json = JsonNode.Parse(File.ReadAllText(dir["child/config.json"]))!;
        Assert.Equal("configuration_decilm.DeciLMConfig", json["auto_map"]!["AutoConfig"]!.GetValue<string>());
        Assert.Equal(DeciLMConfigCode.Text, File.ReadAllText(dir["child/configuration_decilm.py"]));

        Directory.CreateDirectory(dir["standin/transformers"]);
        File.WriteAllText(dir["standin/transformers/__init__.py"], StandIn);
        File.WriteAllText(dir["check.py"], AsVllmReads);
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dir["check.py"], dir["child"] }) start.ArgumentList.Add(a);
        start.Environment["PYTHONPATH"] = dir["standin"];
        start.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var python = Process.Start(start)!;
        var output = python.StandardOutput.ReadToEnd();
        var error = python.StandardError.ReadToEnd();
        python.WaitForExit();

        Assert.True(python.ExitCode == 0, error);
        // Heterogeneous(): 4 KV heads / 256, 1 / 100, linear / linear, no-op / 172, 2 / no-op, no-op / no-op
        Assert.Equal(["4 256", "1 100", "linear linear", "no_op 172", "2 no_op", "no_op no_op"], output.Trim().Split('\n'));
    }

    [Fact]
    public void A_llama_folder_carries_no_configuration_code()
    {
        using var dir = new TempDir();
        var config = CheckpointTestSupport.Homogeneous();
        var weights = CheckpointTestSupport.RandomWeights(config);
        try { Checkpoint.Save(dir["child"], config, weights); }
        finally { CheckpointTestSupport.DisposeAll(weights.Values); }
        Assert.False(File.Exists(dir["child/configuration_decilm.py"]));
        Assert.Null(JsonNode.Parse(File.ReadAllText(dir["child/config.json"]))!["auto_map"]);
    }
}
