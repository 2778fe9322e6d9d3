using System.IO.Compression;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Tests.Cli;

namespace Puzzle.Engine.Tests.Packaging;

[Collection(nameof(ConsoleCollection))]
public sealed class VerifyNamingTests
{
    [Theory]
    [InlineData("build/Puzzle.Test.Model.props", "differs from the props Pack writes for Puzzle.Test.Model 1.0.0")]
    [InlineData("buildTransitive/Puzzle.Test.Model.props", "differs from the props Pack writes")]
    [InlineData("build/Evil.targets", "not a file Pack writes; MSBuild would run it in every consumer's build")]
    [InlineData("README.md", "differs from the model card model/README.md")]
    [InlineData("Puzzle.Test.Model.nuspec", "names Evil.Pkg 9.9.9, but provenance.json says Puzzle.Test.Model 1.0.0")]
    public void Verify_checks_the_packaging_the_manifest_does_not_hash(string entryName, string expected)
    {
        using var dir = new TempDir();
        var pack = PackageTestSupport.Make(dir.Path);
        Assert.Equal(0, CliRunner.Run("verify", pack.Path).Exit); // as packed
        using (var zip = ZipFile.Open(pack.Path, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry(entryName);
            var text = "<Project />";
            if (entry is not null)
            {
                using (var reader = new StreamReader(entry.Open())) text = reader.ReadToEnd();
                entry.Delete();
            }
            using var writer = new StreamWriter(zip.CreateEntry(entryName).Open());
            writer.Write(entryName.EndsWith(".nuspec", StringComparison.Ordinal)
                ? text.Replace("<id>Puzzle.Test.Model</id>", "<id>Evil.Pkg</id>").Replace("<version>1.0.0</version>", "<version>9.9.9</version>")
                : text + "\n<!-- edited -->");
        }

        var (exit, _, err) = CliRunner.Run("verify", pack.Path);

        Assert.Equal(1, exit);
        Assert.Contains(expected, err);
        Assert.Contains($"{pack.Path}!", err);
    }

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
