using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;

// A stage, its job and output records, and a helper that is not one: what the stage check tells apart.
namespace Puzzle.Engine.Tests.FakeStages;

public sealed record Part(string Name);

public sealed record Job1(int Layer, IReadOnlyList<Part> Parts);

public sealed record Output1(double Score)
{
    public static Output1 Read(string jobDirectory) => new(jobDirectory.Length);
}

public sealed class Stage1 : Stage<Job1>
{
    public override string Name => "Stage1";
    public override int Version => 1;
    public override IReadOnlyList<string> Upstream => [];
    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) => [];
    protected override void Run(Job1 job, JobContext context) => Output1.Read(context.OutputDirectory);
}

public static class Helper
{
    public static int Twice(int x) => 2 * x;
}
