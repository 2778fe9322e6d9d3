using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

public class ChannelContributionTests
{
    [Fact]
    public void Matches_a_direct_loop_over_tokens_and_channels()
    {
        Fixtures.Torch();
        using var generator = new Generator(5);
        const int hidden = 4, width = 3;
        using var ffn = ParentBlock.Redrawn(new SwiGluFfn(hidden, width), generator);
        using var norm = new RmsNorm(hidden, 1e-5);
        using (no_grad()) norm.weight.copy_(tensor(new[] { 0.5f, 1f, 1.5f, 2f }));
        using var h = randn([2, 3, hidden], generator: generator);

        using var c = ChannelContribution.Compute(ffn, norm, h);

        var n = ParentBlock.Values(norm.forward(h).detach()); // [6 tokens × hidden]
        var gate = ParentBlock.Values(ffn.gate_proj.weight.detach());
        var up = ParentBlock.Values(ffn.up_proj.weight.detach());
        var down = ParentBlock.Values(ffn.down_proj.weight.detach()); // [hidden × width]
        const int tokens = 6;
        Assert.Equal(new long[] { width }, c.shape);
        for (var i = 0; i < width; i++)
        {
            double sumAbs = 0;
            for (var t = 0; t < tokens; t++)
            {
                double g = 0, u = 0;
                for (var j = 0; j < hidden; j++)
                {
                    g += gate[i * hidden + j] * n[t * hidden + j];
                    u += up[i * hidden + j] * n[t * hidden + j];
                }
                sumAbs += Math.Abs(g / (1 + Math.Exp(-g)) * u);
            }
            double column = 0;
            for (var j = 0; j < hidden; j++) column += down[j * width + i] * down[j * width + i];
            Assert.Equal(sumAbs / tokens * Math.Sqrt(column), c[i].item<float>(), 1e-5);
        }
    }

    [Fact]
    public void Several_batches_average_over_every_token()
    {
        var config = ParentBlock.Config();
        using var block = ParentBlock.Create(config, 6);
        using var h = ParentBlock.Activations(7, batch: 3);
        using var whole = ChannelContribution.Compute(ParentBlock.Ffn(block), block.post_attention_layernorm!, h);
        using var pieces = ChannelContribution.Compute(ParentBlock.Ffn(block), block.post_attention_layernorm!,
            [h[..1], h[1..]]);
        Assert.True(whole.allclose(pieces, rtol: 1e-5, atol: 1e-7));
        Assert.True(whole.gt(0).all().item<bool>());
    }

    [Fact]
    public void The_parents_stream_sums_a_layers_channels_as_it_runs_its_FFN()
    {
        Fixtures.Torch();
        using var dir = new TempDir();
        var config = ModelConfig.Llama(vocab: 50, hidden: 16, layers: 3, heads: 4, kvHeads: 2, intermediate: 32);
        using (var model = CausalLM.Initialise(config, seed: 1))
            Puzzle.Engine.Checkpoints.Checkpoint.Save(dir.Path, config, model.state_dict(), Puzzle.Engine.Checkpoints.CheckpointFormat.Auto);
        using var parent = ParentStream.Open(dir.Path, config, 3, Puzzle.Engine.Runtime.ComputeDevice.Cpu);
        using var scope = NewDisposeScope();
        Tensor[] batches = [randint(0, 50, [2, 9], dtype: int64, generator: new Generator(3)), randint(0, 50, [3, 9], dtype: int64, generator: new Generator(4))];
        using var sum = new ChannelContribution.Sum(parent.Layers[1]);
        var plain = batches.Select(b => parent.Run(b, 3)).ToList();
        var summed = batches.Select(b => parent.Run(b, 3, new Dictionary<int, ChannelContribution.Sum> { [1] = sum })).ToList();

        // the stream itself is the FFN's own pass, to the bit
        foreach (var (p, s) in plain.SelectMany(x => x).Zip(summed.SelectMany(x => x)))
            Assert.True(Same(p.X, s.X) && Same(p.Attention, s.Attention) && Same(p.Ffn, s.Ffn));
        // and the sum is layer 1's contribution over both batches' tokens (layer 0's or layer 2's input would differ)
        static bool Same(Tensor a, Tensor b) => a.eq(b).all().item<bool>();
        Tensor At(int layer) => cat(plain.Select(x => x[layer].X.add(x[layer].Attention).reshape(-1, 16)).ToArray()).unsqueeze(0);
        using var result = sum.Result();
        using var want = ChannelContribution.Compute(parent.Layers[1], At(1));
        Assert.True(result.allclose(want, rtol: 1e-5, atol: 1e-7));
        using var elsewhere = ChannelContribution.Compute(parent.Layers[1], At(0));
        Assert.False(result.allclose(elsewhere, rtol: 1e-3, atol: 1e-5));
    }
}
