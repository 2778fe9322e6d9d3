using System.CommandLine;
using System.Reflection;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle init [PARENT_DIR] [--name NAME]</c>: writes a commented spec to <c>pipelines/NAME.yaml</c>.</summary>
public static class InitCommand
{
    public static Command Create()
    {
        var parent = new Argument<DirectoryInfo?>("parent") { Description = "a Hugging Face Llama-family model folder to compress (default: pretrain a small one)", Arity = ArgumentArity.ZeroOrOne };
        var name = new Option<string?>("--name") { Description = "the pipeline's name (default: the parent folder's, else 'my-pipeline')" };
        var into = new Option<DirectoryInfo?>("--dir") { Description = "the repository folder whose pipelines/ gets the spec (default: the current folder)" };
        var device = new Option<string?>("--device")
        {
            Description = "cpu or cuda: where the spec computes and times, with budgets sized for it (default: cuda where this machine has an NVIDIA GPU, else cpu)",
        };
        device.AcceptOnlyFromAmong("cpu", "cuda");
        var command = new Command("init", "Write a commented pipeline spec to pipelines/NAME.yaml, from a parent folder if given") { parent, name, into, device };
        command.SetAction(parse =>
        {
            var root = parse.GetValue(into)?.FullName ?? Directory.GetCurrentDirectory();
            if (File.Exists(root)) throw new ArgumentException($"--dir {root} is a file; give the repository folder whose pipelines/ gets the spec");
            var folder = parse.GetValue(parent);
            var pipeline = parse.GetValue(name) ?? (folder is null ? "my-pipeline" : Slug(folder.Name));
            var valid = typeof(PipelineSpec).GetProperty(nameof(PipelineSpec.Name))!.GetCustomAttribute<PatternAttribute>()!;
            if (!valid.IsMatch(pipeline)) throw new ArgumentException($"--name '{pipeline}' is not a pipeline name: {valid.Hint}");
            var config = folder is null ? null : CheckParent(folder.FullName);
            var relative = folder is null ? null : Path.GetRelativePath(root, folder.FullName).Replace('\\', '/');
            var path = Path.Combine(root, "pipelines", pipeline + ".yaml");
            if (File.Exists(path)) throw new IOException($"{path} exists; pass --name for another pipeline, or edit that one");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            AtomicFile.Create(path, temp =>
            {
                File.WriteAllText(temp, SpecScaffold.Render(pipeline, relative, config,
                    PipelineOptions.ParseDevice(parse.GetValue(device)) ?? (ResourcePeaks.GpuTotalBytes() is null ? DeviceKind.Cpu : DeviceKind.Cuda)));
                SpecLoader.Load(temp); // what init writes must load as written
            });
            // the spec's first line points editors at the schema beside it: a new project gets one
            var schema = Path.Combine(Path.GetDirectoryName(path)!, SpecSchema.FileName);
            if (!File.Exists(schema)) AtomicFile.WriteAllText(schema, SpecSchema.Generate());
            Console.WriteLine($"wrote {Path.GetRelativePath(root, path)}; next: puzzle status {Path.GetRelativePath(root, path)}, then puzzle run {Path.GetRelativePath(root, path)}");
            // a parent this machine cannot hold (an 8B one on a laptop): said now, not at the first puzzle run
            if (Engine.Pipeline.Execution.PreLaunchChecks.ParentShortfall(SpecLoader.Load(path)) is { } shortfall)
                Console.WriteLine($"warning: {shortfall}");
            return 0;
        });
        return command;
    }

    /// <summary>The parent's config, once its weights (every tensor's name and shape) and its tokenizer (loadable, with
    /// no id beyond the model's vocabulary, with BOS and EOS) are checked: init writes no spec for a folder the pipeline would fail on.</summary>
    static Engine.Model.ModelConfig CheckParent(string folder)
    {
        if (File.Exists(folder)) throw new ArgumentException($"{folder} is a file; give the parent model's folder (its config.json, weights and tokenizer.json)");
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder (the parent model to compress)");
        var (config, tensors) = Checkpoint.Open(folder);
        tensors.Dispose();
        var file = Path.Combine(folder, Checkpoint.TokenizerFileName);
        if (!File.Exists(file)) throw new FileNotFoundException($"{folder}: no {Checkpoint.TokenizerFileName}; the pipeline tokenizes its text with the parent's own tokenizer");
        using var tokenizer = Engine.Tokenization.Tokenizer.Load(file);
        tokenizer.RequireFits(config, folder);
        tokenizer.RequireBosAndEos();
        return config;
    }

    /// <summary>A folder name as a pipeline name: lowercase letters, digits, '-' and '_'.</summary>
    static string Slug(string folder)
    {
        var slug = new string(folder.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray()).Trim('-', '_');
        return slug.Length == 0 ? "my-pipeline" : slug;
    }
}
