using Puzzle.Cli;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Cli;

[Collection(nameof(ConsoleCollection))]
public sealed class CliErrorsTests
{
    [Fact]
    public void A_path_refused_is_one_line_and_exit_1()
    {
        var old = Console.Error;
        var stderr = new StringWriter();
        Console.SetError(stderr);
        try
        {
            var exit = CliErrors.Run(() => throw new UnauthorizedAccessException("Access to the path '/feed/x.nupkg.tmp' is denied."));
            Assert.Equal(1, exit);
            Assert.Equal("error: Access to the path '/feed/x.nupkg.tmp' is denied.", stderr.ToString().Trim());
        }
        finally { Console.SetError(old); }
    }

    [Fact]
    public void A_libtorch_error_is_one_line_and_exit_1_not_an_aborted_process()
    {
        Fixtures.Torch();
        var old = Console.Error;
        var stderr = new StringWriter();
        Console.SetError(stderr);
        try
        {
            // a real libtorch error: an embedding row that is not there, as a tokenizer larger than the model gave
            var exit = CliErrors.Run(() =>
            {
                using var table = zeros(4, 2);
                using var ids = tensor(new long[] { 7 });
                using var rows = table.index_select(0, ids);
                return 0;
            });

            Assert.Equal(1, exit);
            var line = Assert.Single(stderr.ToString().Trim().Split('\n'));
            Assert.StartsWith("error: libtorch: ", line);
            Assert.Contains("out of range", line);
        }
        finally { Console.SetError(old); }
    }
}
