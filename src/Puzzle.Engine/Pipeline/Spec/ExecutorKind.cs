namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Where the pipeline's jobs run.</summary>
public enum ExecutorKind
{
    /// <summary>Processes on this machine.</summary>
    Local,
    /// <summary>A Slurm cluster, as job arrays.</summary>
    Slurm,
}
