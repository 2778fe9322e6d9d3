using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Heal;
using Puzzle.Engine.Model;
using Puzzle.Engine.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Heal;

public class ChildAssemblerTests
{
    static readonly ModelConfig Parent = ModelConfig.Llama(vocab: 60, hidden: 16, layers: 3, heads: 4, kvHeads: 2, intermediate: 32);

    [Fact]
    public void The_parent_architecture_assembles_into_the_parent_and_its_gkd_loss_is_zero()
    {
        using var parent = CausalLM.Initialise(Parent, seed: 1);
        parent.eval();
        var layers = Enumerable.Range(0, 3).Select(l => new LayerChoice(l, $"layer{l}.attention.kv2", $"layer{l}.ffn.ratio1")).ToList();
        using var child = ChildAssembler.Assemble(parent, Parent, layers, _ => null);
        child.eval();
        var ids = randint(0, 60, [2, 11], dtype: int64, generator: new Generator(21));
        using (no_grad()) Assert.True(child.Forward(ids).equal(parent.Forward(ids)).all().item<bool>());
        var terms = new GkdObjective(parent, child, cosine: 1, kl: 1, lm: 0).Step(ids);
        Assert.InRange(terms.Total.item<float>(), -1e-5, 1e-5);
        Assert.InRange(terms.Cosine.item<float>(), -1e-5, 1e-5);
    }

    [Fact]
    public void A_child_is_made_in_the_parents_dtype()
    {
        using var parent = CausalLM.Initialise(Parent, seed: 1);
        parent.to(bfloat16);
        var layers = Enumerable.Range(0, 3).Select(l => new LayerChoice(l, $"layer{l}.attention.kv2", $"layer{l}.ffn.ratio1")).ToList();
        using var child = ChildAssembler.Assemble(parent, Parent, layers, _ => null);
        var parents = parent.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.All(child.named_parameters(), p =>
        {
            Assert.Equal(bfloat16, p.parameter.dtype);
            Assert.True(p.parameter.equal(parents[p.name]).all().item<bool>(), p.name);
        });
    }

    [Fact]
    public void Chosen_variants_take_their_trained_weights_and_no_ops_have_none()
    {
        using var dir = new TempDir();
        using var parent = CausalLM.Initialise(Parent, seed: 1);
        var childConfig = Parent with
        {
            Blocks = [Parent.Blocks[0], new BlockConfig(new AttentionConfig(AttentionKind.Gqa, 1), FfnConfig.NoOp), Parent.Blocks[2]],
        };
        // what a BLD job writes for layer 1's one-KV-head attention
        using var trainedBlock = new DecoderBlock(Parent, new BlockConfig(new AttentionConfig(AttentionKind.Gqa, 1), FfnConfig.NoOp));
        var weights = trainedBlock.named_parameters().ToDictionary(p => "model.layers.1." + p.name, p => (Tensor)p.parameter);
        var file = Path.Combine(dir.Path, "weights.safetensors");
        SafeTensorsWriter.Write(file, weights);
        var layers = new List<LayerChoice>
        {
            new(0, "layer0.attention.kv2", "layer0.ffn.ratio1"), new(1, "layer1.attention.kv1", "layer1.ffn.no_op"), new(2, "layer2.attention.kv2", "layer2.ffn.ratio1"),
        };
        using var child = ChildAssembler.Assemble(parent, childConfig, layers, id => id == "layer1.attention.kv1" ? file : null);
        var got = child.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.True(got["model.layers.1.self_attn.k_proj.weight"].equal(weights["model.layers.1.self_attn.k_proj.weight"]).all().item<bool>());
        Assert.False(got.ContainsKey("model.layers.1.mlp.gate_proj.weight"));
        Assert.True(got["model.layers.2.mlp.up_proj.weight"].equal(parent.named_parameters().Single(p => p.name == "model.layers.2.mlp.up_proj.weight").parameter).all().item<bool>());

        // a variant whose BLD result is missing is an error that names the layer and the tensor
        var error = Assert.Throws<InvalidDataException>(() => ChildAssembler.Assemble(parent, childConfig, layers, _ => null));
        Assert.Contains("layer 1", error.Message);
        Assert.Contains("k_proj", error.Message);
    }
}
