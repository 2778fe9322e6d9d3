using Puzzle.Engine.Data;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A user's tokenizer reaches the data stage with its own settings: the BOS and EOS its tokenizer_config.json names.</summary>
public sealed class ParentTokenizerTests
{
    const string Spec = """
        name: tok
        parent: { path: parent }
        data: { train: [text/*.txt], seq_len: 16 }
        search_space:
          attention: { kv_heads: [1] }
        """;

    [Fact]
    public async Task Bos_and_eos_named_in_the_parents_tokenizer_config_are_the_ones_the_data_is_tokenized_with()
    {
        using var dir = new TempDir();
        TestParents.Tiny(dir["parent"]);
        TestParents.DeepSeekStyleTokenizer(dir["parent"]);
        File.WriteAllText(dir["parent/tokenizer_config.json"],
            """{"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>", "tokenizer_class": "LlamaTokenizerFast"}""");
        SyntheticText.WriteCorpus(dir["text"], files: 2, sentences: 20);
        File.WriteAllText(dir["tok.yaml"], Spec);
        var session = PipelineSession.Open(dir["tok.yaml"], dir["store"]);

        var summary = await session.RunAsync("Data", session.InProcessLauncher(), TextWriter.Null);

        Assert.True(summary.Succeeded, string.Join("; ", summary.Jobs.Select(j => $"{j.Stage}/{j.Job} {j.Outcome} {j.Reason}")));
        var data = Path.Combine(session.Store.Find(session.Graph.Find("Data", "tokens").Key)!.Directory, DataStage.Folder);
        var tokenizer = DatasetManifest.Read(data).Tokenizer;
        Assert.Equal((1, 2), (tokenizer.BosId, tokenizer.EosId)); // the fixture's ids of <s> and </s>, renamed

        // its settings are part of the tokenizer: another EOS is another tokenizer, and other data
        File.WriteAllText(dir["parent/tokenizer_config.json"], """{"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<unk>"}""");
        var edited = PipelineSession.Open(dir["tok.yaml"], dir["store"]).Graph;
        Assert.NotEqual(session.Graph.Find("Tokenizer", "tokenizer").Key, edited.Find("Tokenizer", "tokenizer").Key);
        Assert.NotEqual(session.Graph.Find("Data", "tokens").Key, edited.Find("Data", "tokens").Key);
    }
}
