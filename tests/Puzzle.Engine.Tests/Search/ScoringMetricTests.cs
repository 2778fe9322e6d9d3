using System.Text.Json;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using static Puzzle.Engine.Pipeline.Stages.SearchStage;

namespace Puzzle.Engine.Tests.Search;

/// <summary>What each scoring metric ranks by, as the spec describes it.</summary>
public class ScoringMetricTests
{
    // a: right on the text more often than the parent, but often not the parent's token; b: the parent's token almost always
    static readonly ScoreStage.LayerScores Scores = JsonSerializer.Deserialize<ScoreStage.LayerScores>("""
        {
          "parent": { "kl": 0, "lm_loss": 3.0, "top1": 0.5, "agreement": 1 },
          "variants": {
            "a": { "kl": 0.30, "lm_loss": 2.9, "top1": 0.9, "agreement": 0.60 },
            "b": { "kl": 0.02, "lm_loss": 3.1, "top1": 0.4, "agreement": 0.95 }
          }
        }
        """, PuzzleJson.Options)!;

    [Fact]
    public void Top1_scores_disagreement_with_the_parents_top1_not_accuracy_on_the_text()
    {
        Assert.Equal(0.05, ArchitectureProblem.Score(Scores, "b", ScoringMetric.Top1), 12);
        Assert.Equal(0.40, ArchitectureProblem.Score(Scores, "a", ScoringMetric.Top1), 12);
        var description = typeof(ScoringSpec).GetProperty(nameof(ScoringSpec.Metric))!
            .GetCustomAttributes(typeof(System.ComponentModel.DescriptionAttribute), false).Cast<System.ComponentModel.DescriptionAttribute>().Single().Description;
        Assert.Contains("disagrees with the parent", description);
    }

    [Fact]
    public void Kl_and_lm_loss_score_what_their_names_say()
    {
        Assert.Equal(0.02, ArchitectureProblem.Score(Scores, "b", ScoringMetric.Kl), 12);
        Assert.Equal(-0.1, ArchitectureProblem.Score(Scores, "a", ScoringMetric.LmLoss), 12);
    }
}
