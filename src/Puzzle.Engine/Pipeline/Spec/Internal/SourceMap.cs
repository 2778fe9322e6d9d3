namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// Where each bound record came from: its mapping, its dotted path, and the position errors about the record as a
/// whole point at (its key, or the mapping itself for list items and the root; for a section the file leaves out,
/// the enclosing record's position).
/// </summary>
internal sealed class SourceMap
{
    sealed record Entry(YamlMapping? Node, string Path, SourcePosition Anchor);

    readonly Dictionary<object, Entry> entries = new(ReferenceEqualityComparer.Instance);
    readonly HashSet<(object, string)> failed = new(new FailedComparer());

    public void Register(object record, YamlMapping? node, string path, SourcePosition anchor) =>
        entries[record] = new Entry(node, path, anchor);

    /// <summary>Where to report a problem with <paramref name="record"/> as a whole.</summary>
    public SourcePosition At(object record) => Get(record).Anchor;

    /// <summary>Where to report a problem with one field: its value if written, else the record.</summary>
    public SourcePosition At(object record, string key) => Value(record, key)?.Start ?? At(record);

    /// <summary>Where item <paramref name="index"/> of a list field is, falling back to the field.</summary>
    public SourcePosition At(object record, string key, int index) =>
        Value(record, key) is YamlSequence seq && index < seq.Items.Count ? seq.Items[index].Start : At(record, key);

    /// <summary>The value written for <paramref name="key"/>, or null when the file leaves it out.</summary>
    public YamlNode? Value(object record, string key) => Get(record).Node?[key];

    public bool Has(object record, string key) => Value(record, key) is not null;

    /// <summary>Notes that <paramref name="key"/>'s value was rejected, so rules that read it stay quiet.</summary>
    public void MarkFailed(object record, string key) => failed.Add((record, key));

    /// <summary>Whether every one of <paramref name="keys"/> bound (or kept its default) without an error.</summary>
    public bool Bound(object record, params string[] keys) => keys.All(k => !failed.Contains((record, k)));

    /// <summary>The record's dotted path ("search_space.ffn"), empty for the root.</summary>
    public string PathOf(object record) => Get(record).Path;

    /// <summary>A field's dotted path ("search_space.ffn.ratios").</summary>
    public string PathOf(object record, string key) => Join(PathOf(record), key);

    public static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    Entry Get(object record) =>
        entries.TryGetValue(record, out var e) ? e : throw new InvalidOperationException($"{record.GetType().Name} was not bound from the spec");

    sealed class FailedComparer : IEqualityComparer<(object Record, string Key)>
    {
        public bool Equals((object Record, string Key) a, (object Record, string Key) b) => ReferenceEquals(a.Record, b.Record) && a.Key == b.Key;
        public int GetHashCode((object Record, string Key) x) => HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(x.Record), x.Key);
    }
}
