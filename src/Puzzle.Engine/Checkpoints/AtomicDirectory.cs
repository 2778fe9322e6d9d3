namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Builds a folder beside its destination and moves it into place, so the destination holds either the old complete
/// folder or the new complete one, never a half-written one. (Two renames: POSIX cannot swap folders in one step, so
/// for an instant the destination may be absent; it is never partial.)
/// </summary>
internal static class AtomicDirectory
{
    public static void Publish(string destination, Action<string> build)
    {
        var full = Path.GetFullPath(destination).TrimEnd(Path.DirectorySeparatorChar);
        var parent = Path.GetDirectoryName(full) ?? throw new CheckpointException($"{destination}: cannot save into a root folder");
        Directory.CreateDirectory(parent);
        var name = Path.GetFileName(full);
        var staging = Path.Combine(parent, $".{name}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            build(staging);
            if (Directory.Exists(full))
            {
                var old = Path.Combine(parent, $".{name}.old-{Guid.NewGuid():N}");
                Directory.Move(full, old);
                try { Directory.Move(staging, full); }
                catch
                {
                    Directory.Move(old, full);
                    throw;
                }
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Directory.Move(staging, full);
            }
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
    }
}
