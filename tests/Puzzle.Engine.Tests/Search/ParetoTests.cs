using System.Xml.Linq;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Tests.Search;

public class ParetoTests
{
    static SearchProblem AtSpeedup(SearchProblem p, double speedup) =>
        p with { Limits = [new ResourceLimit("time_s", Instances.Parent(p, "time_s") / speedup, $"throughput ≥ {speedup}× parent")] };

    [Fact]
    public void Scores_do_not_improve_as_the_target_tightens()
    {
        var p = Instances.Random(40, layers: 6);
        double[] targets = [1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 50.0];

        var points = ParetoSweep.Sweep(t => AtSpeedup(p, t), targets);

        Assert.Equal(targets, points.Select(x => x.Target));
        Assert.Equal(0, points[0].Architecture!.Score);
        Assert.Null(points[^1].Architecture);
        var scores = points.Where(x => x.Architecture is not null).Select(x => x.Architecture!.Score).ToList();
        Assert.True(scores.Count >= 5);
        for (var i = 1; i < scores.Count; i++) Assert.True(scores[i] >= scores[i - 1] - 1e-12, $"score fell at point {i}");
    }

    [Fact]
    public void Svg_is_well_formed_with_one_point_per_feasible_target()
    {
        var p = Instances.Random(41, layers: 6);
        var points = ParetoSweep.Sweep(t => AtSpeedup(p, t), [1.0, 1.5, 2.0, 3.0, 50.0]);

        var svg = Engine.Pipeline.Stages.SearchStage.ParetoSvgOf(points, "throughput × parent", "KL <sum> & \"score\"");

        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        Assert.Equal(points.Count(x => x.Architecture is not null), doc.Descendants(ns + "circle").Count());
        Assert.Single(doc.Descendants(ns + "polyline"));
        Assert.Contains(doc.Descendants(ns + "text"), t => t.Value == "KL <sum> & \"score\"");
    }

    [Fact]
    public void Svg_of_a_single_point_or_none_is_still_well_formed()
    {
        var p = Instances.Random(42);
        XDocument.Parse(Engine.Pipeline.Stages.SearchStage.ParetoSvgOf(ParetoSweep.Sweep(t => AtSpeedup(p, t), [1.0]), "x", "y"));
        XDocument.Parse(Engine.Pipeline.Stages.SearchStage.ParetoSvgOf([], "x", "y"));
    }
}
