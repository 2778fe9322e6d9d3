using TorchSharp;

namespace Puzzle.Engine.Checkpoints;

/// <summary>In-memory tensors seen as an <see cref="ITensorSource"/>, so tensors about to be saved validate like saved ones.</summary>
internal sealed class TensorDictionarySource(IReadOnlyDictionary<string, torch.Tensor> tensors) : ITensorSource
{
    public IReadOnlyCollection<string> Names => tensors.Keys.ToArray();

    public bool Contains(string name) => tensors.ContainsKey(name);

    public TensorInfo Info(string name) => new(TensorDType.F32, tensors[name].shape);

    public torch.Tensor Read(string name) => tensors[name].detach().to(torch.ScalarType.Float32).cpu().clone();
}
