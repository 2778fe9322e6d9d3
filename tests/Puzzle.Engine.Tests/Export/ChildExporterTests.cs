using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using TorchSharp;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Export;

public sealed class ChildExporterTests : IDisposable
{
    readonly TempDir _dir = new();

    public ChildExporterTests() => Fixtures.Torch();

    public void Dispose() => _dir.Dispose();

    static JsonObject Config(string folder) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();

    [Fact]
    public void A_heterogeneous_child_exports_as_nemotron_nas_that_reads_back_bit_exact()
    {
        var config = Heterogeneous();
        ExportTestSupport.WriteChild(_dir["heal"], config);
        var result = ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card());

        Assert.Equal(CheckpointFormat.NemotronNas, result.Format);
        var json = Config(_dir["out"]);
        Assert.Equal("DeciLMForCausalLM", (string)json["architectures"]![0]!);
        Assert.Equal("nemotron-nas", (string)json["model_type"]!);
        var blocks = json["block_configs"]!.AsArray();
        Assert.Equal(config.NumLayers, blocks.Count);
        Assert.True((bool)blocks[2]!["attention"]!["replace_with_linear"]!);
        Assert.True((bool)blocks[3]!["attention"]!["no_op"]!);
        Assert.Equal(4, (int)blocks[1]!["attention"]!["n_heads_in_group"]!); // 4 heads over 1 KV head

        var (back, tensors) = Checkpoint.Open(_dir["out"]);
        using (tensors)
        {
            AssertSameConfig(config, back);
            var (_, original) = Checkpoint.Open(_dir["heal"]);
            using (original)
                foreach (var name in original.Names)
                {
                    using var a = original.Read(name);
                    using var b = tensors.Read(name);
                    AssertBitEqual(a, b, name);
                }
        }
        Assert.Equal(File.ReadAllBytes(ExportTestSupport.Tokenizer), File.ReadAllBytes(_dir["out/tokenizer.json"]));
        var tokenizerConfig = JsonNode.Parse(File.ReadAllText(_dir["out/tokenizer_config.json"]))!;
        Assert.Equal("PreTrainedTokenizerFast", (string)tokenizerConfig["tokenizer_class"]!);
        Assert.Equal("<s>", (string)tokenizerConfig["bos_token"]!);
        Assert.Equal(result.Parameters, CheckpointValidator.ExpectedShapes(config).Values.Sum(s => s.Aggregate(1L, (x, y) => x * y)));
    }

    [Fact]
    public void The_model_card_has_the_layers_the_report_and_the_key()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Heterogeneous());
        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card());
        var card = File.ReadAllText(_dir["out/README.md"]);

        Assert.StartsWith("---\nlicense: other\n", card.ReplaceLineEndings("\n"));
        Assert.Contains("| 2 | linear | — | linear | — |", card);
        Assert.Contains("| 3 | no-op | — | SwiGLU | 172 |", card);
        Assert.Contains("| 4 | GQA | 2 | no-op | — |", card);
        Assert.Contains("| **child1** (this model) | child | 29.00% | 4.1000 | 0.0123 | 90.00% | 96.67% | 2,100 | 210 | 2.05× | 2.08× | 2.10× | 2.10× |", card);
        Assert.Contains("| uniform | baseline | 20.00% | — |", card);
        Assert.Contains("constraints.throughput_vs_parent: 2", card);
        Assert.Contains(new string('a', 64), card);
        Assert.Contains("not vLLM", card); // linear replacements: says what the child needs
    }

    [Fact]
    public void A_homogeneous_child_exports_as_plain_llama_unless_nemotron_nas_is_asked_for()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Homogeneous());
        var auto = ChildExporter.Export(_dir["heal"], _dir["auto"], new ExportOptions(), ExportTestSupport.Card());
        var llama = ChildExporter.Export(_dir["heal"], _dir["llama"], new ExportOptions { Format = ExportFormat.Llama }, ExportTestSupport.Card());
        var nas = ChildExporter.Export(_dir["heal"], _dir["nas"], new ExportOptions { Format = ExportFormat.NemotronNas }, ExportTestSupport.Card());

        Assert.Equal((CheckpointFormat.Llama, CheckpointFormat.Llama, CheckpointFormat.NemotronNas), (auto.Format, llama.Format, nas.Format));
        var json = Config(_dir["auto"]);
        Assert.Equal("LlamaForCausalLM", (string)json["architectures"]![0]!);
        Assert.Null(json["block_configs"]);
        Assert.Equal(2, (int)json["num_key_value_heads"]!);
        Assert.NotNull(Config(_dir["nas"])["block_configs"]);
    }

    [Fact]
    public void Llama_for_a_heterogeneous_child_is_an_error_and_writes_nothing()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Heterogeneous());
        var e = Assert.Throws<ExportException>(() =>
            ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions { Format = ExportFormat.Llama }, ExportTestSupport.Card()));
        Assert.Contains("export.format llama", e.Message);
        Assert.Contains("linear/linear in layer 2", e.Message);
        Assert.Contains(_dir["heal"], e.Message);
        Assert.False(Directory.Exists(_dir["out"]));
    }

    [Fact]
    public void Vllm_rejects_linear_replacements_and_an_ffn_before_any_attention()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Heterogeneous());
        var e = Assert.Throws<ExportException>(() =>
            ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions { Runtime = ExportRuntime.Vllm }, ExportTestSupport.Card()));
        Assert.Contains("export.runtime vllm cannot serve this child", e.Message);
        Assert.Contains("layer 2: attention replaced by a linear layer (replace_with_linear)", e.Message);
        Assert.Contains("layer 2: FFN replaced by a linear layer", e.Message);
        Assert.Contains("search_space.attention.linear", e.Message);
        Assert.False(Directory.Exists(_dir["out"]));

        var noLeadingAttention = Homogeneous() with
        {
            Blocks = [new BlockConfig(AttentionConfig.NoOp, FfnConfig.SwiGlu(88)), new BlockConfig(AttentionConfig.Gqa(2), FfnConfig.SwiGlu(88))],
        };
        var problems = RuntimeSupport.Problems(noLeadingAttention, ExportRuntime.Vllm);
        Assert.Contains("layer 0: its FFN runs before the first attention (layer 1)", Assert.Single(problems));
        Assert.Empty(RuntimeSupport.Problems(noLeadingAttention, ExportRuntime.Any));
        var servable = Homogeneous() with
        {
            Blocks = [new BlockConfig(AttentionConfig.Gqa(1), FfnConfig.NoOp), new BlockConfig(AttentionConfig.NoOp, FfnConfig.SwiGlu(40))],
        };
        Assert.Empty(RuntimeSupport.Problems(servable, ExportRuntime.Vllm));
    }

    [Theory]
    [InlineData(ExportDType.Bfloat16, torch.ScalarType.BFloat16, "bfloat16")]
    [InlineData(ExportDType.Float16, torch.ScalarType.Float16, "float16")]
    public void Weights_are_converted_rounding_to_nearest_even(ExportDType dtype, torch.ScalarType scalar, string name)
    {
        ExportTestSupport.WriteChild(_dir["heal"], Heterogeneous());
        var result = ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions { DType = dtype }, ExportTestSupport.Card());
        Assert.Equal(result.Parameters * 2, result.WeightBytes);
        Assert.Equal(name, (string)Config(_dir["out"])["torch_dtype"]!);
        var (_, original) = Checkpoint.Open(_dir["heal"]);
        var (_, exported) = Checkpoint.Open(_dir["out"]);
        using (original)
        using (exported)
            foreach (var tensorName in original.Names)
            {
                Assert.Equal(dtype == ExportDType.Bfloat16 ? TensorDType.BF16 : TensorDType.F16, exported.Info(tensorName).DType);
                using var a = original.Read(tensorName);
                using var rounded = a.to(scalar).to(torch.ScalarType.Float32); // torch's own rounding
                using var b = exported.Read(tensorName);
                AssertBitEqual(rounded, b, tensorName);
            }
    }

    [Fact]
    public void Float16_refuses_weights_beyond_its_range_naming_the_tensor()
    {
        var config = Homogeneous();
        var weights = RandomWeights(config);
        using (torch.no_grad()) weights["model.layers.1.mlp.up_proj.weight"][0, 0] = torch.tensor(70000f);
        Checkpoint.Save(_dir["heal"], config, weights, tokenizerPath: ExportTestSupport.Tokenizer);
        DisposeAll(weights.Values);
        var e = Assert.Throws<ExportException>(() =>
            ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions { DType = ExportDType.Float16 }, ExportTestSupport.Card()));
        Assert.Contains("model.layers.1.mlp.up_proj.weight", e.Message);
        Assert.Contains("bfloat16", e.Message);
        Assert.False(Directory.Exists(_dir["out"]));
        Assert.DoesNotContain(Directory.GetDirectories(_dir.Path), d => Path.GetFileName(d).StartsWith(".out"));
    }

    [Fact]
    public void A_child_without_a_tokenizer_or_with_bad_weights_is_a_clear_error()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Homogeneous(), tokenizer: false);
        var e = Assert.Throws<ExportException>(() => ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card()));
        Assert.Contains("no tokenizer.json", e.Message);

        ExportTestSupport.WriteChild(_dir["bad"], Homogeneous());
        EditHeader(_dir["bad/model.safetensors"], h => h.Remove("model.norm.weight"));
        var missing = Assert.Throws<CheckpointException>(() => ChildExporter.Export(_dir["bad"], _dir["out"], new ExportOptions(), ExportTestSupport.Card()));
        Assert.Contains("model.norm.weight", missing.Message);
    }

    [Fact]
    public void A_report_cut_short_names_the_line_and_column_from_one()
    {
        File.WriteAllText(_dir["report.json"], "{\n  \"pipeline\": \"x\",\n  \"models\": [\n");
        var e = Assert.Throws<ExportException>(() => PipelineReport.Read(_dir["report.json"]));
        Assert.StartsWith($"{_dir["report.json"]}: not a valid report (line 4, column 1: ", e.Message);
        Assert.DoesNotContain("LineNumber", e.Message); // .NET's 0-based position, which contradicted the line named
    }

    [Fact]
    public void A_report_without_models_names_the_field()
    {
        File.WriteAllText(_dir["report.json"], """{"pipeline": "x"}""");
        Assert.Contains("field 'models'", Assert.Throws<ExportException>(() => PipelineReport.Read(_dir["report.json"])).Message);
        File.WriteAllText(_dir["report.json"], """{"models": [{"kind": "child"}]}""");
        Assert.Contains("'models[0].name'", Assert.Throws<ExportException>(() => PipelineReport.Read(_dir["report.json"])).Message);
        File.WriteAllText(_dir["report.json"], """{"models": [{"name": "child1", "kind": "child", "top1": 0.5, "speedup": {"predicted": 2.0, "prefill": 1, "decode": 1, "scenario": 1}}]}""");
        var row = Assert.Single(PipelineReport.Read(_dir["report.json"]).Models);
        Assert.Equal((0.5, 2.0, (double?)null), (row.Top1, row.Speedup?.Predicted, row.Kl));
    }
}
