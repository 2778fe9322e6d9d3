using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// A file's host buffer for copying tensors into a model's parameters on a GPU or in another dtype: as long as the
/// file's largest tensor of the dtype in use, made once, so loading a model faults in no fresh host memory per tensor.
/// One copy at a time.
/// </summary>
internal sealed class StagingBuffer : IDisposable
{
    readonly Lock _gate = new();
    torch.Tensor? _buffer;

    /// <summary>Runs <paramref name="use"/> on the buffer's first <paramref name="elements"/> elements of
    /// <paramref name="dtype"/>, remaking the buffer <paramref name="capacity"/> elements long when it has another dtype.</summary>
    public void Use(torch.ScalarType dtype, long elements, Func<long> capacity, Action<torch.Tensor> use)
    {
        lock (_gate)
        {
            if (_buffer is null || _buffer.dtype != dtype)
            {
                _buffer?.Dispose();
                // the file's, not the caller's dispose scope's: it outlives this call
                _buffer = torch.empty(capacity(), dtype).DetachFromDisposeScope();
            }
            // held by a variable: a tensor no variable holds can be finalized during the native call using it
            using var window = _buffer.narrow(0, 0, elements);
            use(window);
        }
    }

    public void Dispose()
    {
        lock (_gate) _buffer?.Dispose();
    }
}
