using System.IO.Compression;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Packaging;

[Collection(nameof(ConsoleCollection))]
public sealed class VerifyNamingTests
{
    [Fact]
    public void Verify_on_an_edited_package_names_the_package_and_the_file_inside_it()
    {
        using var dir = new TempDir();
        var pack = PackageTestSupport.Make(dir.Path);
        using (var zip = ZipFile.Open(pack.Path, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry("model/config.json")!;
            string text;
            using (var reader = new StreamReader(entry.Open())) text = reader.ReadToEnd();
            entry.Delete();
            using var writer = new StreamWriter(zip.CreateEntry("model/config.json").Open());
            writer.Write(text.Replace("\"rms_norm_eps\"", "\"rms_norm_eps\" ")); // one byte more
        }

        var (exit, _, err) = CliRunner.Run("verify", pack.Path);

        Assert.Equal(1, exit);
        Assert.StartsWith($"error: {pack.Path}!{Path.DirectorySeparatorChar}model{Path.DirectorySeparatorChar}config.json: ", err);
        Assert.Contains("build or download the package again", err);
        Assert.DoesNotContain("puzzle-verify-", err);
        Assert.Throws<PackageIntegrityException>(() => PackagedModel.Check(pack.Path));
    }
}
