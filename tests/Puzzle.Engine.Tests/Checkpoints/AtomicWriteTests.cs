using System.Diagnostics;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Execution;
using Xunit;

namespace Puzzle.Engine.Tests.Checkpoints;

public class AtomicWriteTests
{
    /// <summary>The id of a process that has exited (ids are not reused this fast).</summary>
    internal static int DeadProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }

    [Fact]
    public void Concurrent_publishers_of_the_same_folder_all_succeed_and_leave_one_complete_copy()
    {
        using var dir = new TempDir();
        var target = Path.Combine(dir.Path, "artifacts", "b2");
        var failures = 0;
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, _ =>
        {
            try
            {
                AtomicDirectory.Publish(target, staging =>
                {
                    File.WriteAllText(Path.Combine(staging, "a.txt"), "same");
                    File.WriteAllText(Path.Combine(staging, "b.txt"), "content");
                }, alreadyPublished: current => File.Exists(Path.Combine(current, "b.txt")));
            }
            catch (IOException) { Interlocked.Increment(ref failures); }
        });
        Assert.Equal(0, failures);
        Assert.Equal(["a.txt", "b.txt"], Directory.GetFiles(target).Select(Path.GetFileName).Order());
        Assert.Equal(["b2"], Directory.GetFileSystemEntries(Path.GetDirectoryName(target)!).Select(Path.GetFileName));
    }

    [Fact]
    public void Create_publishes_a_new_file_or_folder_but_never_replaces_one_and_leaves_no_staging()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "pipelines", "x.yaml");
        var folder = Path.Combine(dir.Path, "data", "tokens");

        AtomicFile.Create(file, temp => File.WriteAllText(temp, "first"));
        AtomicDirectory.Create(folder, staging => File.WriteAllText(Path.Combine(staging, "a"), "first"));
        var fileError = Assert.Throws<IOException>(() => AtomicFile.Create(file, temp => File.WriteAllText(temp, "second")));
        var folderError = Assert.Throws<IOException>(() => AtomicDirectory.Create(folder, staging => File.WriteAllText(Path.Combine(staging, "a"), "second")));
        // a writer that fails publishes nothing
        Assert.Throws<InvalidDataException>(() => AtomicDirectory.Create(Path.Combine(dir.Path, "data", "other"), _ => throw new InvalidDataException("bad input")));

        Assert.Contains(file, fileError.Message);
        Assert.Contains(folder, folderError.Message);
        Assert.Equal("first", File.ReadAllText(file));
        Assert.Equal("first", File.ReadAllText(Path.Combine(folder, "a")));
        Assert.Equal(["x.yaml"], Directory.GetFileSystemEntries(Path.GetDirectoryName(file)!).Select(Path.GetFileName));
        Assert.Equal(["tokens"], Directory.GetFileSystemEntries(Path.GetDirectoryName(folder)!).Select(Path.GetFileName));
    }

    [Fact]
    public void A_later_publish_removes_staging_left_by_a_killed_writer_but_not_a_live_one()
    {
        using var dir = new TempDir();
        var parent = Path.Combine(dir.Path, "export");
        var dead = DeadProcessId();
        var killedNew = Path.Combine(parent, $".child1.tmp-{dead}-0123");
        var killedOld = Path.Combine(parent, $"child1.tmp-{dead}");
        var killedFile = Path.Combine(parent, $".report.html.tmp-{dead}-0123");
        var live = Path.Combine(parent, $".child1.tmp-{Environment.ProcessId}-4567");
        foreach (var folder in new[] { killedNew, killedOld, live }) Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(killedOld, "model.safetensors"), "a whole exported model");
        File.WriteAllText(killedFile, "half");

        AtomicDirectory.Publish(Path.Combine(parent, "child1"), staging => File.WriteAllText(Path.Combine(staging, "x"), "1"));
        AtomicDirectory.CleanStale(parent, "report.html");

        Assert.False(Directory.Exists(killedNew));
        Assert.False(Directory.Exists(killedOld));
        Assert.False(File.Exists(killedFile));
        Assert.True(Directory.Exists(live));
        Assert.Equal("1", File.ReadAllText(Path.Combine(parent, "child1", "x")));
    }

    [Fact]
    public void A_failed_build_leaves_the_old_folder_and_no_staging()
    {
        using var dir = new TempDir();
        var target = Path.Combine(dir.Path, "out");
        AtomicDirectory.Publish(target, staging => File.WriteAllText(Path.Combine(staging, "v"), "old"));
        Assert.Throws<InvalidOperationException>(() => AtomicDirectory.Publish(target, staging =>
        {
            File.WriteAllText(Path.Combine(staging, "v"), "half");
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(Path.Combine(target, "v")));
        Assert.Equal(["out"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Concurrent_runs_saving_their_records_never_fail_and_last_json_is_one_complete_record()
    {
        using var dir = new TempDir();
        var failures = 0;
        Parallel.For(0, 32, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var summary = new RunSummary("ci", null, DateTime.UtcNow.AddMilliseconds(i), 1, [new JobRecord("S", "j" + i, "k", JobOutcome.Cached, 0, null)]);
            try { summary.Save(dir.Path); }
            catch (IOException) { Interlocked.Increment(ref failures); }
        });
        Assert.Equal(0, failures);
        var runs = Path.Combine(dir.Path, "runs", "ci");
        var last = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(runs, "last.json")));
        Assert.Equal("ci", last.RootElement.GetProperty("pipeline").GetString());
        Assert.DoesNotContain(Directory.GetFiles(runs), f => f.Contains(".tmp-"));
    }
}
