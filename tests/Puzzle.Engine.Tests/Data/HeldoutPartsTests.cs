using Puzzle.Engine.Data;
using Puzzle.Engine.Tests.Tokenization;
using Puzzle.Engine.Tokenization;
using Xunit;

namespace Puzzle.Engine.Tests.Data;

/// <summary>
/// The held-out text in two parts, selection (what chooses the child) and evaluation (what measures it): disjoint by
/// document, each document's part stable when documents are added, and a stated fallback for a single document.
/// </summary>
public class HeldoutPartsTests(MistralTokenizerFixture fixture) : IClassFixture<MistralTokenizerFixture>
{
    readonly Tokenizer _tok = fixture.Tokenizer;
    const int SeqLen = 15;

    /// <summary>Three words per document, no word in two documents, so a token tells which document it came from.</summary>
    static readonly string[] Words =
    [
        "house", "water", "river", "green", "music", "paper", "table", "light", "stone", "bread", "horse", "cloud",
        "money", "power", "night", "field", "glass", "sugar", "clock", "train", "plant", "chair", "dream", "earth",
        "heart", "voice", "storm", "queen", "beach", "snow", "wolf", "fire", "rain", "bird", "milk", "king",
    ];

    static string Document(int index)
    {
        var rng = new Random(index);
        return string.Join(" ", Enumerable.Range(0, 60 + 13 * index).Select(_ => Words[3 * index + rng.Next(3)]));
    }

    DataBuildResult Build(TempFolder dir, string output, IEnumerable<int> documents, double fraction = 0.3, List<string>? log = null)
    {
        foreach (var d in documents) dir.Write($"{output}-in/doc{d:D2}.txt", Document(d));
        return TokenDatasetBuilder.Build(_tok, new DataBuildOptions
        {
            Inputs = [$"{output}-in/*.txt"], BaseDirectory = dir.Path, SeqLen = SeqLen, HeldoutFraction = fraction,
        }, Path.Combine(dir.Path, output), log: log is null ? null : log.Add);
    }

    /// <summary>Which documents each token belongs to (BOS and EOS to none), from tokenizing each document alone.</summary>
    Dictionary<int, int> TokenOwners(int documents)
    {
        var owners = new Dictionary<int, int>();
        for (var d = 0; d < documents; d++)
            foreach (var t in _tok.Encode(Document(d), addBos: false).Distinct())
                Assert.True(owners.TryAdd(t, d) || owners[t] == d, $"token {t} is in documents {owners[t]} and {d}: pick other words");
        return owners;
    }

    /// <summary>The documents whose text a part's sequences hold.</summary>
    static HashSet<int> DocumentsOf(string dataset, DataSplit part, Dictionary<int, int> owners)
    {
        using var data = TokenDataset.Open(dataset, part);
        var found = new HashSet<int>();
        for (long i = 0; i < data.Count; i++)
            foreach (var t in data.ReadSequence(i))
                if (t != data.Manifest.Tokenizer.BosId && t != data.Manifest.Tokenizer.EosId) found.Add(owners[t]);
        return found;
    }

    [Fact]
    public void Selection_and_evaluation_hold_text_of_disjoint_documents()
    {
        using var dir = new TempFolder();
        var owners = TokenOwners(12);
        var built = Build(dir, "ds", Enumerable.Range(0, 12));
        var selection = DocumentsOf(built.Directory, DataSplit.Selection, owners);
        var evaluation = DocumentsOf(built.Directory, DataSplit.Evaluation, owners);

        Assert.Equal(HeldoutParts.ByDocument, built.Manifest.Split.Parts);
        Assert.True(selection.Count >= 2 && evaluation.Count >= 2, $"selection {selection.Count}, evaluation {evaluation.Count} documents");
        Assert.Empty(selection.Intersect(evaluation));
        Assert.InRange(built.Manifest.Selection.Documents, selection.Count, 12);
        Assert.InRange(built.Manifest.Evaluation.Documents, evaluation.Count, 12);
        // the three parts together hold every sequence once
        Assert.Equal(built.Manifest.Counts.Sequences, built.Manifest.Train.Sequences + built.Manifest.Selection.Sequences + built.Manifest.Evaluation.Sequences);
    }

    [Fact]
    public void A_document_keeps_its_part_when_documents_are_added()
    {
        using var dir = new TempFolder();
        var owners = TokenOwners(12);
        int[] before = [0, 1, 2, 4, 5, 7, 8, 10, 11];
        var a = Build(dir, "a", before);
        var b = Build(dir, "b", Enumerable.Range(0, 12)); // 3, 6 and 9 added between the others
        Dictionary<int, DataSplit> Parts(string dataset)
        {
            var parts = DocumentsOf(dataset, DataSplit.Selection, owners).ToDictionary(d => d, _ => DataSplit.Selection);
            foreach (var d in DocumentsOf(dataset, DataSplit.Evaluation, owners)) parts.Add(d, DataSplit.Evaluation);
            return parts;
        }
        var partsA = Parts(a.Directory);
        var partsB = Parts(b.Directory);
        var both = partsA.Keys.Intersect(partsB.Keys).ToList();
        Assert.True(both.Count >= 5, $"only {both.Count} documents have held-out text in both builds");
        Assert.Contains(both, d => partsA[d] == DataSplit.Selection);
        Assert.Contains(both, d => partsA[d] == DataSplit.Evaluation);
        Assert.All(both, d => Assert.Equal(partsA[d], partsB[d]));

        // the rule itself: a document's part is a function of its text and the seed
        var hashes = Enumerable.Range(0, 40).Select(i => HeldoutParts.DocumentHash($"document {i}: {Document(i % 12)}", seed: 7)).ToList();
        var all = HeldoutParts.Assign(hashes);
        for (var k = 6; k < hashes.Count; k++)
        {
            var prefix = HeldoutParts.Assign(hashes.Take(k).ToList());
            Assert.Contains(DataSplit.Selection, prefix);
            Assert.Contains(DataSplit.Evaluation, prefix);
            Assert.Equal(all.Take(k), prefix);
        }
        Assert.NotEqual(HeldoutParts.DocumentHash("same text", 0), HeldoutParts.DocumentHash("same text", 1));
    }

    [Fact]
    public void Documents_that_all_hash_to_one_part_still_fill_both_and_the_nearest_to_the_boundary_moves()
    {
        const ulong half = 1UL << 63;
        Assert.Equal([DataSplit.Selection, DataSplit.Evaluation, DataSplit.Selection], HeldoutParts.Assign([5, half - 10, 100]));
        Assert.Equal([DataSplit.Selection, DataSplit.Evaluation], HeldoutParts.Assign([half + 3, ulong.MaxValue]));
        Assert.Equal([DataSplit.Selection], HeldoutParts.Assign([12]));

        // two documents of one part by hash: the build still makes both parts, by document
        using var dir = new TempFolder();
        var owners = TokenOwners(12);
        var pair = Enumerable.Range(0, 12).SelectMany(i => Enumerable.Range(i + 1, 11 - i).Select(j => (i, j)))
            .First(p => HeldoutParts.PartOf(HeldoutParts.DocumentHash(Document(p.i), 0)) == HeldoutParts.PartOf(HeldoutParts.DocumentHash(Document(p.j), 0)));
        var built = Build(dir, "ds", [pair.i, pair.j]);
        Assert.Equal(HeldoutParts.ByDocument, built.Manifest.Split.Parts);
        var selection = DocumentsOf(built.Directory, DataSplit.Selection, owners);
        var evaluation = DocumentsOf(built.Directory, DataSplit.Evaluation, owners);
        Assert.Single(selection);
        Assert.Single(evaluation);
        Assert.NotEqual(selection.Single(), evaluation.Single());
    }

    [Fact]
    public void One_document_is_divided_by_position_with_a_warning()
    {
        using var dir = new TempFolder();
        var log = new List<string>();
        var built = Build(dir, "ds", [11], fraction: 0.2, log: log);
        Assert.Equal(HeldoutParts.Position, built.Manifest.Split.Parts);
        Assert.Contains(log, l => l.StartsWith("warning:") && l.Contains("one document") && l.Contains("data.train"));

        // both parts non-empty, and every selection sequence comes before every evaluation sequence in the text
        var stream = _tok.Encode(Document(11), addBos: true).Append(_tok.EosId!.Value).ToArray();
        var chunks = stream.Chunk(SeqLen + 1).Where(c => c.Length == SeqLen + 1).Select(c => string.Join(",", c)).ToList();
        List<int> Positions(DataSplit part)
        {
            using var data = TokenDataset.Open(built.Directory, part);
            return Enumerable.Range(0, (int)data.Count).Select(i => chunks.IndexOf(string.Join(",", data.ReadSequence(i)))).ToList();
        }
        var selection = Positions(DataSplit.Selection);
        var evaluation = Positions(DataSplit.Evaluation);
        Assert.NotEmpty(selection);
        Assert.NotEmpty(evaluation);
        Assert.DoesNotContain(-1, selection.Concat(evaluation));
        Assert.True(selection.Max() < evaluation.Min());
        Assert.InRange(selection.Count - evaluation.Count, 0, 1);

        // by document, no warning
        log.Clear();
        Build(dir, "two", [3, 11], log: log);
        Assert.DoesNotContain(log, l => l.StartsWith("warning:"));
    }

    [Fact]
    public void Evaluation_text_is_never_trained_on_even_when_a_document_is_given_twice()
    {
        // a corpus with each document twice (a file copied under another name; repeated lines of a .jsonl file): the
        // copies share a part, and a held-out passage of one copy must not be trained on in the other
        using var dir = new TempFolder();
        const int seqLen = 31, gram = 16;
        static string Text(int index)
        {
            var rng = new Random(100 + index);
            return string.Join(" ", Enumerable.Range(0, 150).Select(_ => Words[rng.Next(Words.Length)]));
        }
        for (var d = 0; d < 12; d++)
        {
            dir.Write($"in/doc{d:D2}.txt", Text(d));
            dir.Write($"in/copy{d:D2}.txt", Text(d));
        }
        var log = new List<string>();
        var built = TokenDatasetBuilder.Build(_tok, new DataBuildOptions
        {
            Inputs = ["in/*.txt"], BaseDirectory = dir.Path, SeqLen = seqLen, HeldoutFraction = 0.3,
        }, Path.Combine(dir.Path, "ds"), log: log.Add);

        int bos = _tok.BosId!.Value, eos = _tok.EosId!.Value;
        IEnumerable<string> Grams(int[] ids) => Enumerable.Range(0, ids.Length - gram + 1).Select(i => ids.AsSpan(i, gram).ToArray())
            .Where(g => !g.Contains(bos) && !g.Contains(eos)).Select(g => string.Join(",", g));
        HashSet<string> GramsOf(DataSplit part)
        {
            using var data = TokenDataset.Open(built.Directory, part);
            return Enumerable.Range(0, (int)data.Count).SelectMany(i => Grams(data.ReadSequence(i))).ToHashSet();
        }
        var train = GramsOf(DataSplit.Train);
        var evaluation = GramsOf(DataSplit.Evaluation);
        var selection = GramsOf(DataSplit.Selection);
        Assert.NotEmpty(evaluation);
        Assert.Empty(evaluation.Intersect(train));
        Assert.Empty(selection.Intersect(train));
        Assert.Equal(12, built.Manifest.Counts.Documents);
        Assert.Equal(12, built.Manifest.Counts.DuplicateDocuments);
        Assert.Contains(log, l => l.Contains("12 documents repeat an earlier one's text") && l.Contains("in/copy00.txt"));
    }

    [Fact]
    public void A_dataset_of_the_old_format_is_refused_with_a_rebuild_hint()
    {
        using var dir = new TempFolder();
        var built = Build(dir, "ds", [1, 2, 3]);
        var manifest = Path.Combine(built.Directory, DatasetManifest.FileName);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace($"\"version\": {DatasetManifest.CurrentVersion}", "\"version\": 1"));
        var e = Assert.Throws<InvalidDataException>(() => TokenDataset.Open(built.Directory, DataSplit.Evaluation));
        Assert.Contains("rebuild the dataset", e.Message);
    }
}
