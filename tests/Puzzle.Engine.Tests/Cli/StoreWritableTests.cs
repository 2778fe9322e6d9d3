using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Tests.Pipeline;

namespace Puzzle.Engine.Tests.Cli;

/// <summary>A store that cannot be written stops a run before anything starts, with an error that names it.</summary>
[Collection(nameof(ConsoleCollection))]
public class StoreWritableTests
{
    [Fact]
    public void A_store_path_that_names_a_file_stops_the_run_and_the_job_before_anything_starts()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var file = Path.Combine(repo.Root, "not-a-folder");
        File.WriteAllText(file, "mine");
        var told = $"error: the store {file} cannot be written: a file is there, not a folder; name a folder that can be written with --store";

        var (exit, output, err) = CliRunner.Run("run", repo.SpecPath, "--store", file, "--target", "Data", "--in-process");
        Assert.Equal((1, told), (exit, err.Trim()));
        Assert.DoesNotContain(" run ", output);

        // a job MSBuild starts on its own has had no run's check
        (exit, _, err) = CliRunner.Run("job", repo.SpecPath, "--store", file, "--stage", "Tokenizer", "--id", "tokenizer");
        Assert.Equal((1, told), (exit, err.Trim()));
        Assert.Equal("mine", File.ReadAllText(file));
    }

    [Fact]
    public void A_missing_store_folder_is_created_and_probed_without_leaving_anything_but_its_staging_folder()
    {
        using var dir = new TempDir();
        var store = new CacheStore(Path.Combine(dir.Path, "a", "b"));
        store.EnsureWritable();
        Assert.Equal([Path.Combine(store.Root, "tmp")], Directory.EnumerateFileSystemEntries(store.Root));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(store.Root, "tmp")));
    }
}
