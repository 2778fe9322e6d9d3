namespace Puzzle.Engine.Pipeline.Cache;

/// <summary>A published job in the store.</summary>
public sealed record CacheEntry(string Directory, JobManifest Manifest)
{
    public string File(string relative) => Path.Combine(Directory, relative);
}
