using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// A parent as users bring it, not pretrained here: a Llama folder saved by transformers (three safetensors shards with
/// an index, llama3 RoPE in <c>rope_parameters</c>, an untied LM head, a 32k tokenizer, its own generation_config.json,
/// chat_template.jinja, tokenizer.model and named chat template, and a pad_token_id), through every stage to the
/// exported child, by the command line; and the same parent as an older transformers saved it, in PyTorch's
/// pytorch_model.bin.
/// </summary>
[Trait("Category", "Slow")] // a whole pipeline: not in the fast subset
[Collection(nameof(ConsoleCollection))]
public sealed class UserParentPipelineTests
{
    const string Spec = """
        name: test
        parent: { path: models/tiny }
        data: { train: [text/*.txt], seq_len: 32, heldout_fraction: 0.1 }
        search_space:
          attention: { kv_heads: [1], linear: false }
          ffn: { ratios: [0.5], round_to: 16, linear: false }
        bld: { tokens: 2000 }
        scoring: { tokens: 1000 }
        scenario: { target: h100-sxm, batch: 2, prompt: 16, generate: 4 }
        constraints: { throughput_vs_parent: 1.03 }   # a 32k head is most of this parent's time
        gkd: { tokens: 2000 }
        evaluation: { tokens: 800, baselines: [uniform], speed_targets: [] }
        """;

    [Theory]
    [InlineData("safetensors")]
    [InlineData("bin")]
    public void A_transformers_llama_folder_exports_a_child_with_its_rope_head_tokenizer_files_chat_templates_pad_id_and_generation_config(string weights)
    {
        using var repo = new TestRepo(Spec);
        var parent = Path.Combine(repo.Root, "models", "tiny");
        TestParents.Tiny(parent);
        if (weights == "bin") Checkpoints.TorchBinFixtures.ToPytorchBin(parent);
        var generation = JsonNode.Parse(File.ReadAllText(Path.Combine(parent, "generation_config.json")))!.AsObject();
        (generation["do_sample"], generation["temperature"], generation["top_p"]) = (true, 0.6, 0.9);
        File.WriteAllText(Path.Combine(parent, "generation_config.json"), generation.ToJsonString());
        File.WriteAllText(Path.Combine(parent, "chat_template.jinja"), "{% for m in messages %}{{ m['content'] }}</s>{% endfor %}\n"); // transformers 5 saves it so
        File.WriteAllBytes(Path.Combine(parent, "tokenizer.model"), [0x0A, 0x0B, 0x0A, 0x05, 0xFF, 0xC3, 0x28]); // a SentencePiece model: bytes, not text
        Directory.CreateDirectory(Path.Combine(parent, "additional_chat_templates"));
        File.WriteAllText(Path.Combine(parent, "additional_chat_templates", "tool_use.jinja"), "{{ tools | tojson }}\n");
        var config = Json(Path.Combine(parent, "config.json"));
        config["pad_token_id"] = 0;
        File.WriteAllText(Path.Combine(parent, "config.json"), config.ToJsonString());

        var (exit, _, err) = CliRunner.Run("run", repo.SpecPath, "--target", "Export", "--in-process");

        Assert.True(exit == 0, err);
        var session = PipelineSession.Open(repo.SpecPath);
        var export = Path.Combine(session.Store.Find(session.Graph.Find("Export", "child1").Key)!.Directory, ExportStage.ModelFolder);
        var (from, to) = (HfConfig.Read(parent), HfConfig.Read(export));
        Assert.Equal((from.RopeTheta, from.RopeScaling, from.RmsNormEps, from.TieWordEmbeddings, from.HeadDim, from.MaxPositionEmbeddings),
            (to.RopeTheta, to.RopeScaling, to.RmsNormEps, to.TieWordEmbeddings, to.HeadDim, to.MaxPositionEmbeddings));
        Assert.NotNull(to.RopeScaling); // llama3, from transformers 5's rope_parameters
        Assert.Equal((from.VocabSize, from.HiddenSize, from.NumAttentionHeads, from.BosTokenId, from.EosTokenId),
            (to.VocabSize, to.HiddenSize, to.NumAttentionHeads, to.BosTokenId, to.EosTokenId));
        Assert.Equal(generation.ToJsonString(), Json(Path.Combine(export, "generation_config.json")).ToJsonString());
        foreach (var file in new[] { "tokenizer.json", "chat_template.jinja", "tokenizer.model", "additional_chat_templates/tool_use.jinja" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(parent, file)), File.ReadAllBytes(Path.Combine(export, file)));
        Assert.Equal(0, (int)Json(Path.Combine(export, "config.json"))["pad_token_id"]!);
        Assert.True(HasTensor(export, "lm_head.weight"), "an untied parent's child keeps its own head");
    }

    static JsonObject Json(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    static bool HasTensor(string folder, string name)
    {
        var (_, tensors) = Checkpoint.Open(folder);
        using (tensors) return tensors.Contains(name);
    }
}
