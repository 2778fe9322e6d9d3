using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// Copies the human-facing results of a run (the jobs whose stage names an artifact folder) to
/// <c>artifacts/&lt;pipeline&gt;/</c>, each folder replaced whole and only when its job was rebuilt.
/// </summary>
public static class Artifacts
{
    public const string KeyFile = ".key";

    public static IReadOnlyList<string> Publish(string baseDirectory, string pipeline, IEnumerable<JobPlan> jobs, CacheStore store)
    {
        var published = new List<string>();
        var root = Path.Combine(baseDirectory, "artifacts", pipeline);
        jobs = jobs.ToList();
        CleanStale(root, jobs.Select(j => j.Stage.ArtifactFolder(j)).OfType<string>().Select(f => Path.GetDirectoryName(Path.Combine(root, f))!));
        foreach (var job in jobs)
        {
            if (job.Stage.ArtifactFolder(job) is not { } folder || store.Find(job.Key) is not { } entry) continue;
            var target = Path.Combine(baseDirectory, "artifacts", pipeline, folder);
            try { PublishOne(target, folder, job, entry, published); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // a full disk says only "No space left on device": say where, and that nothing is lost
                throw new IOException($"copying {job.Name}'s results to {target} failed: {e.Message}. The store holds every result: " +
                                      "make room (or mend the path) and run again to copy them", e);
            }
        }
        return published;
    }

    static void PublishOne(string target, string folder, JobPlan job, CacheEntry entry, List<string> published)
    {
        var keyFile = Path.Combine(target, KeyFile);
        // the key and when the entry was built: a job rebuilt under the same key (a new measurement) is republished
        var stamp = $"{job.Key}\n{entry.Manifest.StartedUtc:O}\n";
        if (File.Exists(keyFile) && File.ReadAllText(keyFile) == stamp) return;
        if (folder.Length == 0)
        {
            // the pipeline's own folder (a report beside the other outputs): each file replaced by a rename
            foreach (var file in Directory.EnumerateFiles(entry.Directory).Where(f => Path.GetFileName(f) != JobManifest.FileName))
                AtomicFile.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            AtomicFile.WriteAllText(keyFile, stamp);
            published.Add(target);
            return;
        }
        AtomicDirectory.Publish(target, staging =>
        {
            foreach (var file in Directory.EnumerateFiles(entry.Directory, "*", SearchOption.AllDirectories))
            {
                var to = Path.Combine(staging, Path.GetRelativePath(entry.Directory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(file, to);
            }
            File.WriteAllText(Path.Combine(staging, KeyFile), stamp);
        },
        // a concurrent run published the same entry first: its copy is as good as ours
        alreadyPublished: current => File.Exists(Path.Combine(current, KeyFile)) && File.ReadAllText(Path.Combine(current, KeyFile)) == stamp);
        published.Add(target);
    }

    /// <summary>
    /// Removes what copies killed mid-way left in the pipeline's artifact folders (a whole exported model, say),
    /// whichever jobs this run reaches and whether or not their folders are republished: a kill after a folder's swap
    /// leaves the previous copy beside a current one that no later run replaces. Staging siblings lie beside their
    /// folders: in the pipeline's folder, one level below it (export/child1's), or beside this run's folders.
    /// </summary>
    static void CleanStale(string root, IEnumerable<string> parents)
    {
        if (!Directory.Exists(root)) return;
        // not into staging folders (".NAME.tmp-..."): a concurrent run may be renaming its own at this moment
        var below = Directory.GetDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.'));
        foreach (var folder in below.Prepend(root).Concat(parents).Distinct())
            AtomicDirectory.CleanStale(folder);
    }
}
