namespace Puzzle.Engine.Data;

/// <summary>
/// How the held-out text is divided into a <see cref="DataSplit.Selection"/> part (the text that chooses the child:
/// scores, BLD's and GKD's held-out checks) and an <see cref="DataSplit.Evaluation"/> part (the text that measures it),
/// so that a child is never evaluated on text that chose it.
/// </summary>
/// <remarks>
/// <para>By document: each document belongs to one part by a seeded 64-bit hash of its text (below 2^63: selection),
/// so a document's part depends on its text and the seed alone, and adding or removing a document moves no other
/// (the builder keeps one document of a text: in one stream, a held-out passage of a copy would be trained on in
/// another). The builder packs each part's
/// documents into a token stream of its own, so no sequence holds text of two parts, and holds out sequences of each
/// stream; the rest of both streams is training text.</para>
/// <para>When every document hashes to one part (likely with two or three documents), the document whose hash lies
/// nearest the boundary moves to the other part: the one case in which adding a document can move another (the one
/// that was moved, back). When a part's documents still give no whole sequence (a single document, or one part's
/// documents shorter than seq_len + 1 tokens together), the split falls back to <see cref="Position"/>: one stream of
/// all documents, and the earlier half of its held-out sequences selects, the later half evaluates. That keeps a
/// one-book corpus usable; its two parts are disjoint text but the same document, and the builder says so in its log.</para>
/// </remarks>
public static class HeldoutParts
{
    public const string ByDocument = "document";
    public const string Position = "position";
    const ulong Boundary = 1UL << 63;

    /// <summary>Seeded 64-bit hash of a document's text (FNV-1a over its UTF-16 code units, SplitMix64 finaliser);
    /// seeded apart from the sequence hash, so the two assignments are independent.</summary>
    public static ulong DocumentHash(string text, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(text);
        var h = 0xcbf29ce484222325UL ^ TokenDatasetBuilder.Mix(seed ^ 0x5e1ec7e7a1a7105dUL);
        foreach (var c in text) { h ^= c; h *= 0x100000001b3UL; }
        return TokenDatasetBuilder.Mix(h);
    }

    /// <summary>The part a document of this hash belongs to, before the one-sided repair of <see cref="Assign"/>.</summary>
    public static DataSplit PartOf(ulong documentHash) => documentHash < Boundary ? DataSplit.Selection : DataSplit.Evaluation;

    /// <summary>Each document's part (<see cref="DataSplit.Selection"/> or <see cref="DataSplit.Evaluation"/>), by
    /// <see cref="PartOf"/>; with two or more documents both parts get at least one.</summary>
    public static DataSplit[] Assign(IReadOnlyList<ulong> documentHashes)
    {
        ArgumentNullException.ThrowIfNull(documentHashes);
        var parts = documentHashes.Select(PartOf).ToArray();
        if (parts.Length >= 2 && parts.All(p => p == parts[0]))
        {
            // the document nearest the boundary is the one whose move changes the assignment least
            var nearest = Enumerable.Range(0, parts.Length).MinBy(i => Distance(documentHashes[i]));
            parts[nearest] = parts[nearest] == DataSplit.Selection ? DataSplit.Evaluation : DataSplit.Selection;
        }
        return parts;
    }

    static ulong Distance(ulong hash) => hash >= Boundary ? hash - Boundary : Boundary - 1 - hash;

    /// <summary>How many of a stream's <paramref name="sequences"/> are held out: round(fraction·N), at least one,
    /// and at most N − 1 unless the stream has a single sequence (then that one; the other part's stream trains).</summary>
    public static int HeldoutCount(double fraction, long sequences, int minimum = 1)
    {
        if (fraction <= 0 || sequences == 0) return 0;
        var wanted = (long)Math.Round(fraction * sequences, MidpointRounding.AwayFromZero);
        return (int)Math.Clamp(wanted, Math.Min(minimum, sequences), Math.Max(1, sequences - 1));
    }

    /// <summary>
    /// Marks the held-out sequences of one stream: the <paramref name="count"/> with the smallest hashes among
    /// <paramref name="hashes"/>[<paramref name="start"/>..<paramref name="start"/> + <paramref name="length"/>).
    /// </summary>
    public static void HoldOut(IReadOnlyList<ulong> hashes, int start, int length, int count, bool[] heldout)
    {
        foreach (var i in Enumerable.Range(start, length).OrderBy(i => hashes[i]).ThenBy(i => i).Take(count)) heldout[i] = true;
    }
}
