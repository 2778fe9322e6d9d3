using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>bld.layers_per_process and scoring.layers_per_process deal layers to processes back and forth, so that
/// every process has early and late layers (a variant scored early runs more of the parent after it).</summary>
public sealed class LayerGroupTests
{
    [Theory]
    [InlineData(4, 2, new[] { 0, 1, 1, 0 })] // {0, 3} and {1, 2}
    [InlineData(4, 1, new[] { 0, 1, 2, 3 })]
    [InlineData(4, 0, new[] { 0, 0, 0, 0 })] // 0: every layer in one process
    [InlineData(4, 4, new[] { 0, 0, 0, 0 })]
    [InlineData(5, 2, new[] { 0, 1, 2, 2, 1 })] // three processes: {0}, {1, 4}, {2, 3}
    [InlineData(16, 4, new[] { 0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0 })]
    public void Layers_are_dealt_back_and_forth(int layers, int perProcess, int[] groups) =>
        Assert.Equal(groups, Enumerable.Range(0, layers).Select(l => Stage.LayerGroup(l, layers, perProcess)));

    [Theory]
    [InlineData(4, 2)]
    [InlineData(5, 2)]
    [InlineData(7, 3)]
    [InlineData(16, 4)]
    [InlineData(32, 5)]
    [InlineData(80, 8)]
    public void No_process_gets_more_layers_than_allowed_and_as_few_processes_as_hold_them_are_used(int layers, int perProcess)
    {
        var sizes = Enumerable.Range(0, layers).GroupBy(l => Stage.LayerGroup(l, layers, perProcess)).Select(g => g.Count()).ToList();
        Assert.All(sizes, n => Assert.InRange(n, 1, perProcess));
        Assert.Equal((layers + perProcess - 1) / perProcess, sizes.Count);
        // the parent's layers run after each scored layer (layers − 1 − l) are shared about evenly: no process has more
        // than the number of processes beyond another's (consecutive layers, with 4 layers in 2: 5 against 1)
        var work = Enumerable.Range(0, layers).GroupBy(l => Stage.LayerGroup(l, layers, perProcess)).Select(g => g.Sum(l => layers - 1 - l)).ToList();
        Assert.True(work.Max() - work.Min() < sizes.Count, string.Join(", ", work));
    }

    [Fact]
    public void Score_and_distill_jobs_are_built_with_the_same_groups_of_layers()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("layers: 2,", "layers: 4,"));
        var spec = repo.Load();
        var graph = PipelineGraph.Plan(spec, PuzzleStages.All());
        var layers = graph.Jobs["Score"].Count;
        Assert.Equal(4, layers);
        foreach (var perProcess in new[] { 1, 2 })
        {
            var s = spec with { Scoring = spec.Scoring with { LayersPerProcess = perProcess }, Bld = spec.Bld with { LayersPerProcess = perProcess } };
            var score = graph.Jobs["Score"];
            foreach (var job in score)
            {
                var layer = job.ConfigAs<ScoreStage.ScoreJob>().Layer;
                var together = job.Stage.Companions(job, score, s).Select(j => j.ConfigAs<ScoreStage.ScoreJob>().Layer).Append(layer).Order();
                Assert.Equal(Enumerable.Range(0, layers).Where(l => Stage.LayerGroup(l, layers, perProcess) == Stage.LayerGroup(layer, layers, perProcess)), together);
                // a Score job's companions are ready when its own inputs are: the same group's variants train together
                var distill = graph.Jobs["Distill"];
                var lead = distill.First(d => d.ConfigAs<DistillStage.DistillJob>().Layer == layer);
                var trained = lead.Stage.Companions(lead, distill, s).Append(lead).Select(d => d.ConfigAs<DistillStage.DistillJob>().Layer).Distinct().Order();
                Assert.Equal(together, trained);
            }
        }
    }
}
