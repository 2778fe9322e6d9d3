using Puzzle.Cli;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Cli;

[Collection(nameof(ConsoleCollection))]
public sealed class CliErrorsTests
{
    /// <summary><see cref="CliErrors.Run"/> of <paramref name="command"/>: its exit and what it printed on stderr.</summary>
    static (int Exit, string Err) Run(Func<int> command)
    {
        var old = Console.Error;
        var stderr = new StringWriter();
        Console.SetError(stderr);
        try { return (CliErrors.Run(command), stderr.ToString().Trim()); }
        finally { Console.SetError(old); }
    }

    [Fact]
    public void A_path_refused_is_one_line_and_exit_1()
    {
        var (exit, err) = Run(() => throw new UnauthorizedAccessException("Access to the path '/feed/x.nupkg.tmp' is denied."));
        Assert.Equal(1, exit);
        Assert.Equal("error: Access to the path '/feed/x.nupkg.tmp' is denied.", err);
    }

    [Fact]
    public void A_libtorch_error_is_one_line_and_exit_1_not_an_aborted_process()
    {
        Fixtures.Torch();
        // a real libtorch error: an embedding row that is not there, as a tokenizer larger than the model gave
        var (exit, err) = Run(() =>
        {
            using var table = zeros(4, 2);
            using var ids = tensor(new long[] { 7 });
            using var rows = table.index_select(0, ids);
            return 0;
        });

        Assert.Equal(1, exit);
        var line = Assert.Single(err.Split('\n'));
        Assert.StartsWith("error: libtorch: ", line);
        Assert.Contains("out of range", line);
    }

    [Fact]
    public void A_full_disk_says_how_full_the_drive_is_what_the_store_holds_and_what_frees_room_and_exits_1()
    {
        using var dir = new TempDir();
        var root = dir[".puzzle"];
        var target = Pipeline.DiskFullTests.FakeStore(root);
        var (exit, err) = Run(() =>
        {
            CliErrors.Store = root; // as opening a pipeline's session sets it
            throw new IOException($"No space left on device : '{target}'", 28);
        });

        Assert.Equal(1, exit); // as before: a full disk is no error that may pass
        var lines = err.Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Equal($"error: No space left on device : '{target}'", lines[0]);
        Assert.StartsWith("error: disk full: ", lines[1]);
        Assert.Contains($" free of {Engine.ByteSize.Human(new DriveInfo(root).TotalSize)} on ", lines[1]);
        Assert.Contains("resume/ 3.0 MiB, cache/ entries ", lines[1]);
        Assert.Contains("`puzzle gc PIPELINE...`", lines[1]);
    }
}
