using System.CommandLine;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Runtime;

namespace Puzzle.Cli.Commands;

/// <summary><c>puzzle logits --model DIR --ids FILE --out FILE [--device cuda] [--dtype float32]</c></summary>
public static class LogitsCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Hugging Face model folder", Required = true };
        var ids = new Option<FileInfo>("--ids") { Description = "JSON file: an array of equally long arrays of token ids", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "safetensors file to write: 'logits', float32 [batch, tokens, vocab]", Required = true }.ToWrite();
        var threads = new Option<int?>("--threads") { Description = "torch threads (default: all cores)" }.Whole();
        var device = DeviceOptions.Device();
        var dtype = DeviceOptions.DType();
        var command = new Command("logits", "Write the model's logits for given token ids (to compare with another implementation)")
        {
            model, ids, output, threads, device, dtype,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(threads) is < 1) throw new ArgumentException($"--threads must be at least 1, got {parse.GetValue(threads)}");
            TorchRuntime.EnsureLoaded(parse.GetValue(threads));
            var on = DeviceOptions.Open(parse.GetValue(device), parse.GetValue(dtype));
            var shape = LogitsDump.Run(parse.GetValue(model)!.FullName, LogitsDump.ReadIds(parse.GetValue(ids)!.FullName), on,
                parse.GetValue(output)!.FullName);
            Console.WriteLine($"logits [{string.Join(", ", shape)}] on {on} → {parse.GetValue(output)!.FullName}");
            return 0;
        });
        return command;
    }
}
