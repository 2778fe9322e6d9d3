using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Model;

public class InitialiseTests
{
    [Fact]
    public void A_fresh_model_depends_on_its_seed_alone_not_on_torchs_global_generator()
    {
        Fixtures.Torch();
        var config = ModelConfig.Llama(vocab: 50, hidden: 16, layers: 2, heads: 2, kvHeads: 1, intermediate: 32);
        var stop = 0;
        // another job of the same process drawing from the global generator all the while
        var other = new Thread(() => { while (Volatile.Read(ref stop) == 0) { manual_seed(1); using var x = randn(256); } });
        other.Start();
        try
        {
            for (var round = 0; round < 10; round++)
            {
                using var a = CausalLM.Initialise(config, 3);
                using var b = CausalLM.Initialise(config, 3);
                foreach (var ((name, p), (_, q)) in a.named_parameters().Zip(b.named_parameters()))
                    Assert.True(p.allclose(q, 0, 0), $"round {round}: {name} differs");
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            other.Join();
        }
    }
}
