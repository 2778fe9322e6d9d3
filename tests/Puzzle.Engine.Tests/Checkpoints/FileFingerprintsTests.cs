using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine.Tests.Checkpoints;

public class FileFingerprintsTests
{
    [Fact]
    public void An_edit_in_place_of_the_same_size_with_its_write_time_set_back_is_hashed_again()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        var path = dir["weights.bin"];
        File.WriteAllBytes(path, [1, 2, 3, 4]);
        var written = File.GetLastWriteTimeUtc(path);
        var first = FileFingerprints.Sha256(path);
        Assert.Equal(first, FileFingerprints.Sha256(path));
        Assert.Equal(1, FileFingerprints.TimesRead(path)); // remembered

        // as `touch -r` after an edit: same inode, same size, same write and creation times. The kernel's clock for
        // inode times is coarse (a few ms), so edit until the change time has moved: what any later edit would show.
        var changed = FileStatus.Identify(path)!.Value.ChangeTime;
        for (byte b = 5; FileStatus.Identify(path)!.Value.ChangeTime == changed; b++)
        {
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) stream.Write([b, 2, 3, 4]);
            File.SetLastWriteTimeUtc(path, written);
        }
        Assert.Equal(written, File.GetLastWriteTimeUtc(path));
        Assert.Equal(4, new FileInfo(path).Length);

        Assert.NotEqual(first, FileFingerprints.Sha256(path));
        Assert.Equal(2, FileFingerprints.TimesRead(path));
    }
}
