using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Model;

/// <summary>
/// A forward pass leaves in its caller's dispose scope what it returns and each block's output, not every block's
/// temporaries: at 8B those are about 0.6 GB per block, and a pass held them all until the caller's scope ended.
/// Counted as the tensors a scope holds after passes through 2 and through 6 layers.
/// </summary>
public class BlockTemporariesTests
{
    static ModelConfig Config(int layers) => ModelConfig.Llama(vocab: 50, hidden: 16, layers: layers, heads: 4, kvHeads: 2, intermediate: 32);

    static int Held(Action<int> pass, int layers)
    {
        using var scope = NewDisposeScope();
        pass(layers);
        return scope.DisposablesCount;
    }

    [Fact]
    public void A_forward_pass_keeps_no_blocks_temporaries_in_the_callers_scope()
    {
        var ids = randint(0, 50, [2, 7], dtype: int64, generator: new Generator(3));
        void Pass(int layers)
        {
            using var model = CausalLM.Initialise(Config(layers), seed: 1);
            using var _ = no_grad();
            var outputs = new List<Tensor>();
            model.Forward(ids, null, outputs);
        }
        var extra = Held(Pass, 6) - Held(Pass, 2);
        Assert.True(extra <= 4, $"4 more layers left {extra} more tensors in the caller's scope: only their outputs should stay");
    }

    [Fact]
    public void The_parents_stream_keeps_only_each_layers_stream()
    {
        using var dir = new TempDir();
        var ids = randint(0, 50, [2, 8], dtype: int64, generator: new Generator(3));
        int Pass(int layers)
        {
            var path = Path.Combine(dir.Path, $"parent{layers}");
            using (var model = CausalLM.Initialise(Config(layers), seed: 1))
                Puzzle.Engine.Checkpoints.Checkpoint.Save(path, Config(layers), model.state_dict(), Puzzle.Engine.Checkpoints.CheckpointFormat.Auto);
            using var stream = ParentStream.Open(path, Config(layers), layers, Puzzle.Engine.Runtime.ComputeDevice.Cpu);
            using var scope = NewDisposeScope();
            stream.Run(ids, layers);
            return scope.DisposablesCount;
        }
        var extra = Pass(6) - Pass(2);
        Assert.True(extra <= 4 * 3, $"4 more layers left {extra} more tensors in the caller's scope: only their streams (3 each) should stay");
    }
}
