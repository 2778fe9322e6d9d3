using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A job process tells a filesystem error that may pass (exit 75, which Slurm resubmits) from an error of its own
/// (exit 1, which would come back).</summary>
public sealed class JobExitTests
{
    const int Eio = 5, Enospc = 28, Estale = 116;

    [Fact]
    public void An_io_error_or_a_stale_handle_may_pass_and_a_full_disk_or_a_missing_file_would_come_back()
    {
        // a real I/O error: the start of this process's memory map is not mapped
        var real = Assert.ThrowsAny<IOException>(() =>
        {
            using var mem = File.OpenRead("/proc/self/mem");
            mem.ReadExactly(new byte[8]);
        });
        Assert.Equal(Eio, real.HResult);
        Assert.True(JobExit.MayPass(real));
        Assert.True(JobExit.MayPass(new IOException("Stale file handle", Estale)));
        Assert.True(JobExit.MayPass(new InvalidDataException("cannot read the weights", new IOException("Input/output error", Eio))));
        Assert.True(JobExit.MayPass(new AggregateException(new ArgumentException("x"), new IOException("Stale file handle", Estale))));

        Assert.False(JobExit.MayPass(new IOException("No space left on device", Enospc)));
        Assert.False(JobExit.MayPass(new FileNotFoundException("no such file", "weights.safetensors")));
        Assert.False(JobExit.MayPass(new UnauthorizedAccessException("denied")));
        Assert.False(JobExit.MayPass(new InvalidOperationException("the spec changed during the run")));
    }

    [Fact]
    public void Puzzle_job_exits_75_on_an_io_error_and_1_on_an_error_of_its_own()
    {
        var (exit, _, err) = CliRunner.Run("job", "/proc/self/mem", "--stage", "Parent", "--id", "parent");
        Assert.Equal(JobExit.PassingError, exit);
        Assert.Contains("cannot read the spec: Input/output error", err);
        Assert.Contains("(exit 75: a filesystem error that may pass; run again once the filesystem answers)", err);

        using var dir = new TempDir();
        (exit, _, err) = CliRunner.Run("job", dir["missing.yaml"], "--stage", "Parent", "--id", "parent");
        Assert.Equal(1, exit);
        Assert.DoesNotContain("may pass", err);
    }
}
