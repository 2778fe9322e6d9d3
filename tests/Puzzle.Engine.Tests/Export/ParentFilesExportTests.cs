using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Model;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Export;

/// <summary>
/// An exported child loads as its parent did: <c>AutoTokenizer.from_pretrained(child)</c> finds the parent's
/// SentencePiece model, added tokens and named chat templates.
/// </summary>
public sealed class ParentFilesExportTests : IDisposable
{
    readonly TempDir _dir = new();

    public ParentFilesExportTests() => Fixtures.Torch();

    public void Dispose() => _dir.Dispose();

    static readonly ModelConfig Child = Homogeneous();

    /// <summary>A SentencePiece model's bytes: a protobuf, not text (0xFF, 0xC3 0x28 are no UTF-8).</summary>
    static readonly byte[] SentencePiece = [0x0A, 0x0B, 0x0A, 0x05, 0x3C, 0x75, 0x6E, 0x6B, 0x3E, 0x15, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xC3, 0x28, 0x18, 0x02, 0x0D, 0x0A];

    /// <summary>A parent folder as transformers 4.5x saves a Llama-2-style tokenizer beside the model: config.json,
    /// tokenizer.model, added_tokens.json and two named chat templates, one under a folder of its own.</summary>
    string Parent(string name)
    {
        var parent = _dir[name];
        Directory.CreateDirectory(Path.Combine(parent, "additional_chat_templates", "more"));
        File.WriteAllText(Path.Combine(parent, HfConfig.FileName), HfConfig.ToJson(Child));
        File.WriteAllBytes(Path.Combine(parent, "tokenizer.model"), SentencePiece);
        File.WriteAllText(Path.Combine(parent, "added_tokens.json"), """{"<|eot_id|>": 9, "<pad>": 39}""");
        // a BOM and CRLF as an editor on Windows leaves them: the bytes, not the text, are the template
        File.WriteAllBytes(Path.Combine(parent, "additional_chat_templates", "tool_use.jinja"),
            [0xEF, 0xBB, 0xBF, .. "{%- for m in messages %}{{ m['content'] }}<|eot_id|>\r\n{%- endfor %}\r\n"u8]);
        File.WriteAllText(Path.Combine(parent, "additional_chat_templates", "more", "rag.jinja"), "{{ documents | tojson }}\n");
        return parent;
    }

    [Theory]
    [InlineData(ExportFormat.Llama)]
    [InlineData(ExportFormat.NemotronNas)]
    public void The_parents_sentencepiece_model_added_tokens_and_chat_templates_go_with_the_child_byte_for_byte(ExportFormat format)
    {
        ExportTestSupport.WriteChild(_dir["heal"], Child);
        var parent = Parent("parent");

        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions { Format = format }, ExportTestSupport.Card(), parentDirectory: parent);

        foreach (var file in new[] { "tokenizer.model", "added_tokens.json", "additional_chat_templates/tool_use.jinja", "additional_chat_templates/more/rag.jinja" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(parent, file)), File.ReadAllBytes(Path.Combine(_dir["out"], file)));
    }

    [Fact]
    public void A_parent_without_them_exports_without_them()
    {
        ExportTestSupport.WriteChild(_dir["heal"], Child);
        var parent = Parent("parent");
        foreach (var file in new[] { "tokenizer.model", "added_tokens.json" }) File.Delete(Path.Combine(parent, file));
        Directory.Delete(Path.Combine(parent, "additional_chat_templates"), recursive: true);

        ChildExporter.Export(_dir["heal"], _dir["out"], new ExportOptions(), ExportTestSupport.Card(), parentDirectory: parent);

        Assert.Equal(["README.md", "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
            Directory.GetFileSystemEntries(_dir["out"]).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
