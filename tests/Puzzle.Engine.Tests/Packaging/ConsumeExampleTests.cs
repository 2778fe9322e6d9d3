using Puzzle.Engine.Export;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Tests.Checkpoints;
using Puzzle.Engine.Tests.Export;

namespace Puzzle.Engine.Tests.Packaging;

/// <summary>
/// examples/consume built the way a user builds it: a plain PackageReference to a model package on a local feed. The
/// package holds the transformers-made reference checkpoint, so the app's greedy continuation must be transformers'.
/// </summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public sealed class ConsumeExampleTests : IDisposable
{
    readonly TempDir _dir = new();

    public ConsumeExampleTests() => Fixtures.Torch();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_example_restores_the_package_from_a_feed_runs_the_model_and_refuses_a_corrupted_copy()
    {
        // the reference checkpoint, exported and packed as the Pack stage does, pushed to a folder feed
        ChildExporter.Export(CheckpointTestSupport.FixtureDir, _dir["export"], new ExportOptions(), ExportTestSupport.Card());
        File.WriteAllText(_dir["pipeline.yaml"], "name: unit\n");
        var id = "Puzzle.Test.Consume";
        var version = $"0.0.0-t{Guid.NewGuid():N}"[..20]; // a version no package folder has seen
        var package = ModelPackage.Pack(PackageTestSupport.Contents(id, version, _dir["export"], _dir["pipeline.yaml"]), _dir["packed"]);
        Assert.Equal(PushOutcome.Pushed, await FeedPublisher.PushAsync(package.Path, FeedTarget.Folder(_dir["feed"]), false, TextWriter.Null));

        // packages restore into a private folder (the machine's package folder serves the rest), so nothing is left behind;
        // Puzzle.Engine is the one these tests run on, not rebuilt
        var global = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var project = Path.Combine(Pipeline.TestRepo.Source, "examples", "consume", "Consume.csproj");
        (int Exit, string Out, string Err) Build(params string[] extra) => Pipeline.Cli.Wait(Pipeline.Cli.StartProcess("dotnet", _dir.Path,
        [
            "build", project, "-nologo", "-v:q", "-c", Pipeline.Cli.Configuration,
            $"-p:PuzzleModelId={id}", $"-p:PuzzleModelVersion={version}", $"-p:PuzzleFeed={_dir["feed"]}",
            $"-p:RestorePackagesPath={_dir["packages"]}", $"-p:RestoreFallbackFolders={global}", "-p:RestoreRecursive=false",
            "-p:BuildProjectReferences=false", "-p:CreateHardLinksForCopyLocalIfPossible=true", .. extra,
        ]), timeoutSeconds: 300);
        var build = Build();
        Assert.True(build.Exit == 0, build.Out + build.Err);
        var app = Path.Combine(Path.GetDirectoryName(project)!, "bin", Pipeline.Cli.Configuration, "net10.0");
        var copied = Path.Combine(app, "puzzle-models", id, version);
        Assert.True(File.Exists(Path.Combine(copied, "model", "model.safetensors")), "the package's build props did not copy the model beside the app");

        var reference = Fixtures.Reference.GetProperty("texts").GetProperty("short");
        var prompt = reference.GetProperty("text").GetString()!;
        var expected = string.Join(' ', Fixtures.Ids(Fixtures.Reference, "greedy16_short_bos"));
        var run = Pipeline.Cli.Wait(Pipeline.Cli.StartProcess("dotnet", _dir.Path, [Path.Combine(app, "consume.dll"), prompt]), timeoutSeconds: 120);
        Assert.True(run.Exit == 0, run.Out + run.Err);
        Assert.Contains($"{id} {version}: child1 of pipeline 'unit'", run.Out);
        Assert.Contains($"ids: {expected}", run.Out);
        // --device: a device the process cannot use, or no device at all, is an error before any model is loaded
        var bad = Pipeline.Cli.Wait(Pipeline.Cli.StartProcess("dotnet", _dir.Path, [Path.Combine(app, "consume.dll"), prompt, "--device", "tpu"]), timeoutSeconds: 120);
        Assert.Equal(2, bad.Exit);
        Assert.Contains("error: --device takes cpu or cuda, got 'tpu'", bad.Err);
        // a number is not a device name (before, --device 0 ran on the CPU and --device 1 on a GPU)
        var number = Pipeline.Cli.Wait(Pipeline.Cli.StartProcess("dotnet", _dir.Path, [Path.Combine(app, "consume.dll"), prompt, "--device", "0"]), timeoutSeconds: 120);
        Assert.NotEqual(0, number.Exit);
        Assert.Contains("error: --device takes cpu or cuda, got '0'", number.Err);
        var onCpu = Pipeline.Cli.Wait(Pipeline.Cli.StartProcess("dotnet", _dir.Path, [Path.Combine(app, "consume.dll"), "--device", "cpu", prompt]), timeoutSeconds: 120);
        Assert.True(onCpu.Exit == 0, onCpu.Out + onCpu.Err);
        Assert.Contains($"ids: {expected}", onCpu.Out);
        if (!TorchSharp.torch.cuda.is_available())
        {
            var noGpu = Pipeline.Cli.Wait(Pipeline.Cli.StartProcess("dotnet", _dir.Path, [Path.Combine(app, "consume.dll"), prompt, "--device", "cuda"]), timeoutSeconds: 120);
            Assert.Equal(1, noGpu.Exit);
            Assert.Contains("error: --device is cuda, but this process sees no CUDA device", noGpu.Err);
            Assert.DoesNotContain("ids:", noGpu.Out);
        }

        var weights = Path.Combine(copied, "model", "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[bytes.Length / 2] ^= 1;
        File.WriteAllBytes(weights, bytes);
        var corrupted = Pipeline.Cli.Wait(Pipeline.Cli.StartProcess("dotnet", _dir.Path, [Path.Combine(app, "consume.dll"), prompt]), timeoutSeconds: 120);
        Assert.Equal(1, corrupted.Exit);
        Assert.Contains($"error: {weights}: SHA-256", corrupted.Err);
        Assert.DoesNotContain("ids:", corrupted.Out);

        // without the copy the app reads the package where NuGet extracted it (its runtimeconfig.json says where)
        Directory.Delete(Path.Combine(app, "puzzle-models"), recursive: true);
        var uncopied = Build("-p:PuzzleModelsCopy=false");
        Assert.True(uncopied.Exit == 0, uncopied.Out + uncopied.Err);
        Assert.False(Directory.Exists(Path.Combine(app, "puzzle-models")));
        var fromPackageFolder = Pipeline.Cli.Wait(Pipeline.Cli.StartProcess("dotnet", _dir.Path, [Path.Combine(app, "consume.dll"), prompt]), timeoutSeconds: 120);
        Assert.True(fromPackageFolder.Exit == 0, fromPackageFolder.Out + fromPackageFolder.Err);
        Assert.Contains($"ids: {expected}", fromPackageFolder.Out);
    }
}
