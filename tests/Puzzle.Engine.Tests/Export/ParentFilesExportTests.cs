using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Model;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Export;

/// <summary>
/// An exported child loads as its parent did: <c>AutoTokenizer.from_pretrained(child)</c> finds the parent's
/// SentencePiece model, added tokens and named chat templates, and config.json the parent's pad, BOS and EOS ids.
/// </summary>
public sealed class ParentFilesExportTests : IDisposable
{
    readonly TempDir _dir = new();

    public ParentFilesExportTests() => Fixtures.Torch();

    public void Dispose() => _dir.Dispose();

    /// <summary>Llama 3.1 Instruct's ids: EOS a list (end of text, of a message, of a turn), and a pad id.</summary>
    static readonly ModelConfig Child = Homogeneous() with { BosTokenId = 1, EosTokenId = 2, MoreEosTokenIds = [7, 9] };

    /// <summary>A SentencePiece model's bytes: a protobuf, not text (0xFF, 0xC3 0x28 are no UTF-8).</summary>
    static readonly byte[] SentencePiece = [0x0A, 0x0B, 0x0A, 0x05, 0x3C, 0x75, 0x6E, 0x6B, 0x3E, 0x15, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xC3, 0x28, 0x18, 0x02, 0x0D, 0x0A];

    /// <summary>A parent folder as transformers 4.5x saves a Llama-2-style tokenizer beside the model: config.json with
    /// <paramref name="pad"/> as its pad_token_id (absent where null), tokenizer.model, added_tokens.json and two named
    /// chat templates, one under a folder of its own.</summary>
    string Parent(string name, JsonNode? pad)
    {
        var parent = _dir[name];
        Directory.CreateDirectory(Path.Combine(parent, "additional_chat_templates", "more"));
        var config = JsonNode.Parse(HfConfig.ToJson(Child))!.AsObject();
        if (pad is not null) config["pad_token_id"] = pad;
        File.WriteAllText(Path.Combine(parent, HfConfig.FileName), config.ToJsonString());
        File.WriteAllBytes(Path.Combine(parent, "tokenizer.model"), SentencePiece);
        File.WriteAllText(Path.Combine(parent, "added_tokens.json"), """{"<|eot_id|>": 9, "<pad>": 39}""");
        // a BOM and CRLF as an editor on Windows leaves them: the bytes, not the text, are the template
        File.WriteAllBytes(Path.Combine(parent, "additional_chat_templates", "tool_use.jinja"),
            [0xEF, 0xBB, 0xBF, .. "{%- for m in messages %}{{ m['content'] }}<|eot_id|>\r\n{%- endfor %}\r\n"u8]);
        File.WriteAllText(Path.Combine(parent, "additional_chat_templates", "more", "rag.jinja"), "{{ documents | tojson }}\n");
        return parent;
    }

    static JsonObject Json(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    [Theory]
    [InlineData(ExportFormat.Llama)]
    [InlineData(ExportFormat.NemotronNas)]
    public void The_parents_sentencepiece_model_added_tokens_chat_templates_and_pad_id_go_with_the_child(ExportFormat format)
    {
        ExportTestSupport.WriteChild(_dir["heal"], Child);
        var parent = Parent("parent", pad: 39);

        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions { Format = format }, ExportTestSupport.Card(), parentDirectory: parent);

        foreach (var file in new[] { "tokenizer.model", "added_tokens.json", "additional_chat_templates/tool_use.jinja", "additional_chat_templates/more/rag.jinja" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(parent, file)), File.ReadAllBytes(Path.Combine(_dir["out"], file)));
        var (from, to) = (Json(Path.Combine(parent, HfConfig.FileName)), Json(_dir["out/config.json"]));
        foreach (var field in new[] { "pad_token_id", "bos_token_id", "eos_token_id" })
            Assert.True(JsonNode.DeepEquals(from[field], to[field]), $"{field}: the parent's {from[field]?.ToJsonString()}, the child's {to[field]?.ToJsonString()}");
        Assert.Equal([2, 7, 9], to["eos_token_id"]!.AsArray().Select(id => (int)id!));
        Assert.Equal(to.Select(p => p.Key).Order(StringComparer.Ordinal), to.Select(p => p.Key)); // in the order the rest is written
        var back = HfConfig.Read(_dir["out"]); // and it still reads as the child
        Assert.Equal((Child.BosTokenId, Child.EosTokenId), (back.BosTokenId, back.EosTokenId));
        Assert.Equal(Child.MoreEosTokenIds, back.MoreEosTokenIds);
    }

    [Fact]
    public void A_parent_without_them_or_with_a_null_pad_id_exports_without_them()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Child);
        var parent = Parent("parent", pad: null);
        foreach (var file in new[] { "tokenizer.model", "added_tokens.json" }) File.Delete(Path.Combine(parent, file));
        Directory.Delete(Path.Combine(parent, "additional_chat_templates"), recursive: true);
        var config = Json(Path.Combine(parent, HfConfig.FileName));
        config["pad_token_id"] = null; // as transformers writes a config without one
        File.WriteAllText(Path.Combine(parent, HfConfig.FileName), config.ToJsonString());

        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card(), parentDirectory: parent);

        Assert.Equal(["README.md", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
            Directory.GetFileSystemEntries(_dir["out"]).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.False(Json(_dir["out/config.json"]).ContainsKey("pad_token_id"));
    }

    [Fact]
    public void A_pad_id_that_is_not_an_integer_names_the_parents_config_and_writes_nothing()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Child);
        var parent = Parent("parent", pad: "<pad>");

        var e = Assert.Throws<ExportException>(() =>
            ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card(), parentDirectory: parent));

        Assert.Equal($"{Path.Combine(parent, HfConfig.FileName)}: pad_token_id must be a token id (an integer) or null, found \"<pad>\"", e.Message);
        Assert.False(Directory.Exists(_dir["out"]));
    }
}
