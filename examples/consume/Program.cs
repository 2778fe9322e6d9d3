using System.Reflection;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Runtime;

// The model package this app was built against (Consume.csproj's PuzzleModelId).
var id = typeof(Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "PuzzleModelId").Value!;
// [prompt] [--device cpu|cuda]: on cuda the model runs in bfloat16, as the pipeline trains it there
var device = DeviceKind.Cpu;
var words = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    if (args[i] != "--device") words.Add(args[i]);
    // by name only: Enum.TryParse also took a number, so --device 0 ran on the CPU and --device 1 on a GPU
    else if (i + 1 < args.Length && args[++i].ToLowerInvariant() is "cpu" or "cuda" && Enum.TryParse(args[i], ignoreCase: true, out DeviceKind kind)) device = kind;
    else
    {
        Console.Error.WriteLine($"error: --device takes cpu or cuda, got '{(i < args.Length ? args[i] : "")}'");
        return 2;
    }
}
var prompt = words.Count > 0 ? words[0] : "Call me Ishmael. Some years ago";

PackagedModel package;
try
{
    // finds puzzle-models/<id>/<version>/ beside the app and checks every file's SHA-256 against puzzle/provenance.json
    package = PackagedModel.Load(id);
}
catch (PackageIntegrityException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

var provenance = package.Provenance;
Console.WriteLine($"{package.Id} {package.Version}: {provenance.Model} of pipeline '{provenance.Pipeline}', pipeline key {provenance.PipelineKey[..12]}");
Console.WriteLine($"  {provenance.Export["format"]} {provenance.Export["dtype"]}, {provenance.Jobs.Count} jobs in its provenance, made by Puzzle.NET {provenance.Tool}");
if (provenance.Metrics["model"] is { } metrics)
    Console.WriteLine($"  held-out top-1 {metrics["top1"]}, KL vs parent {metrics["kl"]}, measured speedup {metrics["speedup"]?["scenario"]}");

ComputeDevice on;
try { on = ComputeDevice.Open(device, "--device"); }
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
using var model = package.LoadModel(on);
using var tokenizer = package.LoadTokenizer();
var ids = tokenizer.Encode(prompt, addBos: true).Select(i => (long)i).ToArray();
var generated = model.GenerateGreedy(ids, 16, model.Config.EosTokenId, tokenizer.VocabSize); // only ids the tokenizer can decode
Console.WriteLine($"prompt: {prompt}");
Console.WriteLine($"continuation: {tokenizer.Decode(generated.Select(i => (int)i))}");
Console.WriteLine($"ids: {string.Join(' ', generated)}");
return 0;
