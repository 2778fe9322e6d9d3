using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Puzzle.Engine.Model;

/// <summary>
/// An embedding whose table is another model's tensor, frozen: a gather of its rows. TorchSharp 0.107's
/// <see cref="Embedding"/> is a native module that keeps the table it was made with whatever weight it is given later
/// (and <c>Embedding_from_pretrained</c> registers a fresh table beside the one it looks up), so a model that takes its
/// parent's embeddings through it would hold a copy anyway: 1 GB at the 1B shape in float32, 1 GB at 8B in bfloat16.
/// It takes no gradient, so its backward pass is never run.
/// </summary>
public sealed class SharedEmbedding : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;

    /// <param name="table">the source's table [vocab, hidden]: this module holds an alias of it</param>
    public SharedEmbedding(Tensor table) : base(nameof(SharedEmbedding))
    {
        weight = Alias(table);
        register_parameter(nameof(weight), weight);
    }

    /// <summary>A frozen parameter that is <paramref name="source"/>'s storage under a handle of its own: disposing it
    /// leaves the source's tensor as it was.</summary>
    public static Parameter Alias(Tensor source) => new(source.detach(), requires_grad: false);

    /// <summary>The rows of ids [B, T]: [B, T, hidden].</summary>
    public override Tensor forward(Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.view([.. ids.shape, weight.shape[1]]);
    }
}
