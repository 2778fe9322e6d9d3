namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// A checkpoint that cannot be read or written as asked. The message names the file and the tensor or field at fault,
/// so a user can find the problem without a debugger.
/// </summary>
public sealed class CheckpointException : Exception
{
    public CheckpointException(string message) : base(message) { }
    public CheckpointException(string message, Exception inner) : base(message, inner) { }
}
