namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Writes a file beside its destination and renames it into place, so a reader (or a concurrent writer) sees the old
/// complete file or the new complete one, never a partial one. The temporary name is unique per writer, so two
/// processes replacing the same file never share a temporary.
/// </summary>
public static class AtomicFile
{
    public static void Write(string destination, Action<string> write) => Write(destination, write, replace: true);

    /// <summary>
    /// Like <see cref="Write(string, Action{string})"/>, but never replaces a file: when the destination exists (or
    /// another writer creates it meanwhile), it is left alone and an <see cref="IOException"/> names it.
    /// </summary>
    public static void Create(string destination, Action<string> write) => Write(destination, write, replace: false);

    static void Write(string destination, Action<string> write, bool replace)
    {
        var full = Path.GetFullPath(destination);
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, AtomicDirectory.StagingName(Path.GetFileName(full), "tmp"));
        try
        {
            write(temp);
            try { File.Move(temp, full, overwrite: replace); }
            catch (IOException) when (!replace && File.Exists(full)) { throw new IOException($"{full} exists; it was left as it is"); }
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void WriteAllText(string destination, string text) => Write(destination, temp => File.WriteAllText(temp, text));

    public static void Copy(string source, string destination) => Write(destination, temp => File.Copy(source, temp));
}
