namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Where the throughput scenario is measured.</summary>
public enum ScenarioDevice
{
    Cpu,
    Cuda,
}
