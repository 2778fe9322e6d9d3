using System.CommandLine;
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
            var folder = parse.GetValue(parent);
            var pipeline = parse.GetValue(name) ?? (folder is null ? "my-pipeline" : Slug(folder.Name));
            var config = folder is null ? null : HfConfig.Read(folder.FullName);
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
            return 0;
        });
        return command;
    }

    /// <summary>A folder name as a pipeline name: lowercase letters, digits, '-' and '_'.</summary>
    static string Slug(string folder)
    {
        var slug = new string(folder.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray()).Trim('-', '_');
        return slug.Length == 0 ? "my-pipeline" : slug;
    }
}
