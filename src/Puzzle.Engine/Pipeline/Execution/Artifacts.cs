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
        foreach (var job in jobs)
        {
            if (job.Stage.ArtifactFolder(job) is not { } folder || store.Find(job.Key) is not { } entry) continue;
            var target = Path.Combine(baseDirectory, "artifacts", pipeline, folder);
            var keyFile = Path.Combine(target, KeyFile);
            // the key and when the entry was built: a job rebuilt under the same key (a new measurement) is republished
            var stamp = $"{job.Key}\n{entry.Manifest.StartedUtc:O}\n";
            if (File.Exists(keyFile) && File.ReadAllText(keyFile) == stamp) continue;
            if (folder.Length == 0)
            {
                // the pipeline's own folder (a report beside the other outputs): each file replaced by a rename
                Directory.CreateDirectory(target);
                foreach (var file in Directory.EnumerateFiles(entry.Directory).Where(f => Path.GetFileName(f) != JobManifest.FileName))
                {
                    var part = Path.Combine(target, Path.GetFileName(file) + ".tmp-" + Environment.ProcessId);
                    File.Copy(file, part, overwrite: true);
                    File.Move(part, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
                }
                File.WriteAllText(keyFile, stamp);
                published.Add(target);
                continue;
            }
            var temp = target + ".tmp-" + Environment.ProcessId;
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            foreach (var file in Directory.EnumerateFiles(entry.Directory, "*", SearchOption.AllDirectories))
            {
                var to = Path.Combine(temp, Path.GetRelativePath(entry.Directory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                File.Copy(file, to);
            }
            File.WriteAllText(Path.Combine(temp, KeyFile), stamp);
            if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            Directory.Move(temp, target);
            published.Add(target);
        }
        return published;
    }
}
