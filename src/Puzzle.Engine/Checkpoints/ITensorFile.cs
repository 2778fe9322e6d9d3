namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// One file of named tensors in a checkpoint folder (a <c>.safetensors</c> file or a PyTorch <c>.bin</c>), opened
/// lazily: opening reads the file's description of its tensors, reading one tensor reads its bytes and nothing else.
/// <see cref="CheckpointTensors"/> puts a folder's files (one, or the shards of an index) together.
/// </summary>
public interface ITensorFile : ITensorSource, IDisposable
{
    string Path { get; }

    /// <summary>Bytes of tensor data read so far: lets tests show that reading one block leaves other data untouched.</summary>
    long DataBytesRead { get; }
}
