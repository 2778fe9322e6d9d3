using System.Text.Json;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Training;

namespace Puzzle.Engine.Tests.Parents;

public class ParentBuilderTests
{
    [Fact]
    public void Pretrains_a_real_language_model_and_saves_it_in_hugging_face_format()
    {
        Fixtures.Torch();
        using var dir = new TempDir();
        var recipe = ParentRecipe.Micro with
        {
            Name = "test", Inputs = [SyntheticText.WriteCorpus(dir["text"])], VocabSize = 320, SeqLen = 32, HeldoutFraction = 0.1,
            Train = new TrainOptions { Tokens = 60_000, LearningRate = 3e-3 },
        };
        var report = ParentBuilder.Build(recipe, dir["parent"], dir["work"], log: _ => { });

        // a real LM: it uses context, so it beats the best context-free (unigram) model of the same text
        Assert.True(report.Heldout.Loss < report.HeldoutUnigramEntropy - 0.5,
            $"held-out loss {report.Heldout.Loss:F3} vs unigram entropy {report.HeldoutUnigramEntropy:F3}");
        Assert.True(report.LossCurve[^1].Loss < report.LossCurve[0].Loss);
        Assert.False(string.IsNullOrWhiteSpace(report.SampleGreedy));

        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json", "generation_config.json", ParentReport.FileName })
            Assert.True(File.Exists(Path.Combine(dir["parent"], file)), file);
        var (config, tensors) = Checkpoint.Open(dir["parent"]);
        tensors.Dispose();
        Assert.True(config.IsHomogeneous);
        Assert.Equal(2, config.Blocks[0].Attention.KvHeads);

        // the saved checkpoint reproduces the reported held-out numbers
        var again = EvalJob.Run(new EvalRequest(dir["parent"], null, [Path.Combine(dir["work"], "data-seq32")], Batch: 16));
        Assert.Equal(report.Heldout.Loss, again.Metrics.Loss, 4);
        Assert.Equal(report.Heldout.Tokens, again.Metrics.Tokens);
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["parent"], ParentReport.FileName))).RootElement;
        Assert.Equal(report.Heldout.Loss, json.GetProperty("heldout").GetProperty("loss").GetDouble(), 6);
    }
}
