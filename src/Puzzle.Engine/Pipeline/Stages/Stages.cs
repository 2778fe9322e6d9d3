using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>The stages of a Puzzle pipeline, in the order DESIGN.md describes.</summary>
public static class PuzzleStages
{
    public static IReadOnlyList<Stage> All() =>
        [new FetchStage(), new TokenizerStage(), new DataStage(), new ParentStage(), new DistillStage(),
            new ScoreStage(), new MeasureStage(), new SearchStage(), new HealStage(), new EvaluateStage(), new SweepStage(), new SpeedStage(),
            new ReportStage(),
            new ExportStage(), new PackStage(), new PublishStage()];
}
