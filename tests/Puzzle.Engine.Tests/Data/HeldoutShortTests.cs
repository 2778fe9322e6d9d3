using Puzzle.Engine.Data;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Tokenization;

namespace Puzzle.Engine.Tests.Data;

/// <summary>A job asked for more held-out tokens than a part holds measures on what there is, and says so.</summary>
public sealed class HeldoutShortTests
{
    [Fact]
    public void A_part_smaller_than_asked_is_named_with_what_it_holds_and_one_large_enough_is_not()
    {
        using var dir = new TempDir();
        using var tokenizer = Tokenizer.Load(Path.Combine(Fixtures.HfLlamaTiny, "tokenizer.json"));
        var glob = SyntheticText.WriteCorpus(dir["text"], files: 4, sentences: 60);
        TokenDatasetBuilder.Build(tokenizer, new DataBuildOptions { Inputs = [glob], SeqLen = 32, HeldoutFraction = 0.2, Seed = 1 }, dir["data"]);
        using var selection = TokenDataset.Open(dir["data"], DataSplit.Selection);
        var held = selection.Count * 32;
        Assert.True(held > 0);

        Assert.Null(DataStage.Short(selection, held, "scoring.tokens"));
        Assert.Equal($"warning: scoring.tokens is 1,000,000, but the selection part of the held-out text holds {held.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} tokens " +
                     $"({selection.Count} sequences of 32): measured on those. More documents (data.train, data.npm) or a larger " +
                     "data.heldout_fraction hold more.", DataStage.Short(selection, 1_000_000, "scoring.tokens"));
    }
}
