using System.Text.Json;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests;

/// <summary>Paths to the test fixtures and a scratch folder per test.</summary>
public static class Fixtures
{
    static Fixtures() => TorchRuntime.EnsureLoaded(threads: 2);

    public static string HfLlamaTiny => Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf-llama-tiny");

    public static JsonElement Reference =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(HfLlamaTiny, "reference.json"))).RootElement;

    public static long[] Ids(JsonElement e, string property) =>
        e.GetProperty(property).EnumerateArray().Select(x => x.GetInt64()).ToArray();

    /// <summary>Makes sure libtorch is loaded and threads set before a test touches torch.</summary>
    public static void Torch() { }
}

/// <summary>A temporary folder removed when the test ends.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "puzzle-test-" + Guid.NewGuid().ToString("N")[..12]);
    public string this[string relative] => System.IO.Path.Combine(Path, relative);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
