namespace Puzzle.Engine.Tests;

/// <summary>Deterministic English-like text from a tiny grammar: enough structure for a small model to learn quickly.</summary>
public static class SyntheticText
{
    static readonly string[] Subjects = ["the whale", "the captain", "a sailor", "the old ship", "the harpooner", "the mate"];
    static readonly string[] Verbs = ["sees", "follows", "hunts", "watches", "fears", "finds"];
    static readonly string[] Objects = ["the sea", "the white whale", "a small boat", "the long voyage", "the dark water", "the island"];
    static readonly string[] Endings = ["at dawn.", "in the storm.", "before night.", "with great care.", "once more."];

    public static string Document(int seed, int sentences)
    {
        var rng = new Random(seed);
        var parts = new List<string>();
        for (var i = 0; i < sentences; i++)
        {
            var s = $"{Subjects[rng.Next(Subjects.Length)]} {Verbs[rng.Next(Verbs.Length)]} {Objects[rng.Next(Objects.Length)]} {Endings[rng.Next(Endings.Length)]}";
            parts.Add(char.ToUpperInvariant(s[0]) + s[1..]);
        }
        return string.Join(" ", parts);
    }

    /// <summary>Writes <paramref name="files"/> text files into <paramref name="directory"/>; returns the glob.</summary>
    public static string WriteCorpus(string directory, int files = 8, int sentences = 200)
    {
        Directory.CreateDirectory(directory);
        for (var f = 0; f < files; f++) File.WriteAllText(Path.Combine(directory, $"doc{f:D2}.txt"), Document(f, sentences));
        return Path.Combine(directory, "*.txt");
    }
}
