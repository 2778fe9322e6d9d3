using System.Runtime.CompilerServices;

namespace Puzzle.Engine.Tests;

/// <summary>Keeps what the tests cache outside temp folders away from the user's home: the file-hash memo
/// (<see cref="Engine.Checkpoints.FileFingerprints"/>) of this test process and of the CLI processes it starts.</summary>
internal static class TestEnvironment
{
    [ModuleInitializer]
    internal static void Initialise()
    {
        var folder = Path.Combine(Path.GetTempPath(), "puzzle-test-hashes-" + Environment.ProcessId);
        Environment.SetEnvironmentVariable("PUZZLE_HASH_CACHE", folder);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
            catch (IOException) { } // a CLI process still writing: the temp folder is the system's to clean
        };
    }
}
