using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Model;
using Puzzle.Engine.Tests.Checkpoints;

namespace Puzzle.Engine.Tests.Export;

/// <summary>Trained-looking child folders (random weights, the fixture's tokenizer) and a report to export them with.</summary>
internal static class ExportTestSupport
{
    public static string Tokenizer => Path.Combine(CheckpointTestSupport.FixtureDir, "tokenizer.json");

    /// <summary>Saves <paramref name="config"/> with seeded random weights into <paramref name="directory"/> as a Heal job does.</summary>
    public static void WriteChild(string directory, ModelConfig config, int seed = 0, bool tokenizer = true)
    {
        var weights = CheckpointTestSupport.RandomWeights(config, seed);
        try { Checkpoint.Save(directory, config, weights, CheckpointFormat.NemotronNas, tokenizerPath: tokenizer ? Tokenizer : null); }
        finally { CheckpointTestSupport.DisposeAll(weights.Values); }
    }

    public static ModelCardContext Card(string model = "child1") => new()
    {
        Pipeline = "unit", Model = model, PipelineKey = new string('a', 64), WeightsKey = new string('b', 64), WeightsJob = "Heal/" + model,
        Tool = "0.1.0",
        Scenario = new JsonObject { ["batch"] = 8, ["prompt"] = 128 },
        Constraints = new JsonObject { ["throughput_vs_parent"] = 2.0 },
        Report =
        [
            new ReportEntry("parent", "parent") { Top1 = 0.3, Loss = 4.0, Kl = 0, Agreement = 1, Retention = 1, PrefillTokensPerS = 1000, DecodeTokensPerS = 100 },
            new ReportEntry(model, "child")
            {
                Top1 = 0.29, Loss = 4.1, Kl = 0.0123, Agreement = 0.9, Retention = 0.9667, PrefillTokensPerS = 2100, DecodeTokensPerS = 210,
                Speedup = new ReportSpeedup(2.05, 2.1, 2.1, 2.08),
            },
            new ReportEntry("uniform", "baseline") { Top1 = 0.2, Kl = 0.5 },
        ],
    };
}
