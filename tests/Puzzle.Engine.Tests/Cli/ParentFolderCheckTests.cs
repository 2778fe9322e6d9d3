using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Tests.Pipeline;

namespace Puzzle.Engine.Tests.Cli;

/// <summary>A user's parent folder that the pipeline would fail on deep inside a job is refused where it is first read,
/// naming the user's file: by init, by eval and by the pipeline's first job.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class ParentFolderCheckTests
{
    const string Spec = """
        name: tk
        parent: { path: big }
        data: { train: [text/*.txt], seq_len: 16 }
        search_space: { attention: { kv_heads: [1] } }
        """;

    /// <summary>A parent of vocabulary 512 (weights in header only) with the fixture's tokenizer of 32,000 tokens.</summary>
    static string SmallVocabularyParent(string root)
    {
        var folder = Path.Combine(root, "big");
        TestParents.HeaderOnly(ModelConfig.Llama(vocab: 512, hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 128, tie: true), folder);
        return folder;
    }

    [Fact]
    public void A_tokenizer_with_ids_beyond_the_parents_vocabulary_is_refused_by_init_eval_and_the_tokenizer_job()
    {
        using var repo = new TestRepo(Spec);
        var parent = SmallVocabularyParent(repo.Root);
        const string said = "gives token ids up to 31,999, but";

        var (init, _, initError) = CliRunner.Run("init", parent, "--dir", repo.Root, "--name", "mine");
        Assert.Equal(1, init);
        Assert.Contains(said, initError);
        Assert.Contains("vocab_size 512", initError);
        Assert.False(File.Exists(Path.Combine(repo.Root, "pipelines", "mine.yaml")));

        var (eval, _, evalError) = CliRunner.Run("eval", "--model", parent, "--data", Path.Combine(repo.Root, "text"));
        Assert.Equal(1, eval); // refused before any weight loads: these have none
        Assert.Contains(said, evalError);

        // the pipeline's first job, not the model's first pass three stages later (which aborted the process)
        var (run, output, runError) = CliRunner.Run("run", repo.SpecPath, "--target", "Tokenizer", "--in-process");
        Assert.NotEqual(0, run);
        Assert.Contains($"{Path.Combine(parent, "tokenizer.json")} {said}", output + runError);
        var cache = Path.Combine(repo.Store, "cache");
        Assert.False(Directory.Exists(cache) && Directory.EnumerateFiles(cache, "*", SearchOption.AllDirectories).Any()); // nothing published
    }

    [Fact]
    public void A_tokenizer_without_bos_by_any_name_is_refused_by_init_and_the_tokenizer_job()
    {
        using var repo = new TestRepo(Spec);
        var parent = Path.Combine(repo.Root, "big");
        TestParents.Tiny(parent);
        TestParents.DeepSeekStyleTokenizer(parent); // and no tokenizer_config.json to name them
        var said = $"{Path.Combine(parent, "tokenizer.json")}: no BOS token: a tokenizer_config.json beside it names none in its vocabulary as bos_token";

        var (init, _, initError) = CliRunner.Run("init", parent, "--dir", repo.Root, "--name", "mine");
        Assert.Equal(1, init);
        Assert.Contains(said, initError);
        Assert.False(File.Exists(Path.Combine(repo.Root, "pipelines", "mine.yaml")));

        // the pipeline's first job, not the Data job naming the store's copy
        var (run, output, runError) = CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process");
        Assert.NotEqual(0, run);
        Assert.Contains(said, output + runError);
        Assert.Contains("FAILED Tokenizer/tokenizer", output + runError);
    }

    [Fact]
    public void A_tokenizer_json_the_library_cannot_read_is_named_as_the_users_file_by_the_tokenizer_job()
    {
        using var repo = new TestRepo(Spec);
        var parent = SmallVocabularyParent(repo.Root);
        File.WriteAllText(Path.Combine(parent, "tokenizer.json"), "garbage");

        var (run, output, error) = CliRunner.Run("run", repo.SpecPath, "--target", "Data", "--in-process");

        Assert.NotEqual(0, run);
        Assert.Contains($"{Path.Combine(parent, "tokenizer.json")} is not a valid tokenizer.json", output + error);
        Assert.DoesNotContain("cache", (output + error).Split('\n').Single(l => l.Contains("not a valid tokenizer.json", StringComparison.Ordinal)));
    }

    [Fact]
    public void Init_refuses_what_the_pipeline_would_fail_on_naming_the_option_or_file_and_writes_nothing()
    {
        using var dir = new TempDir();
        TestParents.Tiny(dir["tiny"]);
        File.WriteAllText(dir["afile"], "");

        void Refused(string expected, params string[] args)
        {
            var (exit, _, error) = CliRunner.Run(["init", .. args]);
            Assert.True(exit == 1, $"init {string.Join(' ', args)}: exit {exit}");
            Assert.Contains(expected, error);
            Assert.False(Directory.Exists(dir["pipelines"]) && Directory.EnumerateFiles(dir["pipelines"], "*.yaml").Any());
        }

        Refused("nothere: no such folder", dir["nothere"], "--dir", dir.Path);
        Refused($"{dir["afile"]} is a file; give the parent model's folder", dir["afile"], "--dir", dir.Path);
        Refused("--name 'Bad Name' is not a pipeline name: lowercase letters", dir["tiny"], "--dir", dir.Path, "--name", "Bad Name");
        Refused($"--dir {dir["afile"]} is a file", dir["tiny"], "--dir", dir["afile"]);
        File.Move(dir["tiny/model-00002-of-00003.safetensors"], dir["elsewhere.safetensors"]);
        Refused("model-00002-of-00003.safetensors", dir["tiny"], "--dir", dir.Path);
        File.Move(dir["elsewhere.safetensors"], dir["tiny/model-00002-of-00003.safetensors"]);
        File.Delete(dir["tiny/tokenizer.json"]);
        Refused("no tokenizer.json", dir["tiny"], "--dir", dir.Path);
    }
}
