using System.Globalization;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// A search space must offer each layer at least one attention and one FFN alternative; KV-head counts must divide
/// the parent's KV heads (mean-pooling merges whole groups of them); the FFN ratios a spec lists must each give a width
/// of their own, narrower than the parent's once rounded (the library keeps one variant per width); layer ranges must
/// run forwards and, when the parent's shape is known, stay within it.
/// </summary>
internal sealed class SearchSpaceRules(SourceMap map, SpecErrorList errors)
{
    /// <summary>What the rules need of the parent's shape; a null field is unknown (the spec failed to say it, or the
    /// parent is pretrained here, to the positions the spec asks for).</summary>
    public sealed record ParentShape(int? KvHeads, int? Layers, string Source, int? MaxPositions = null, string? Config = null,
        int? FfnWidth = null, string? FfnSource = null);

    public void Check(SearchSpaceSpec space, ParentShape? parent)
    {
        var kvHeads = parent?.KvHeads;
        var layers = parent?.Layers;

        if (map.Bound(space.Attention, "kv_heads", "linear", "no_op") && !space.Attention.HasOptions)
            errors.Add(map.At(space.Attention), NoAttention(map.PathOf(space.Attention)));
        if (map.Bound(space.Ffn, "ratios", "linear", "no_op") && !space.Ffn.HasOptions)
            errors.Add(map.At(space.Ffn), NoFfn(map.PathOf(space.Ffn)));
        CheckKvHeads(space.Attention, space.Attention.KvHeads, kvHeads, parent?.Source);
        CheckRatios(space.Ffn, space.Ffn, parent);

        foreach (var layer in space.Layers)
        {
            CheckRange(layer, layers);
            if (layer.Attention is { } attention)
            {
                if (map.Bound(attention, "kv_heads", "linear", "no_op") && !attention.ApplyTo(space.Attention).HasOptions)
                    errors.Add(map.At(attention), NoAttention(map.PathOf(attention)));
                CheckKvHeads(attention, attention.KvHeads ?? [], kvHeads, parent?.Source);
            }
            if (layer.Ffn is { } ffn)
            {
                if (map.Bound(ffn, "ratios", "linear", "no_op") && !ffn.ApplyTo(space.Ffn).HasOptions)
                    errors.Add(map.At(ffn), NoFfn(map.PathOf(ffn)));
                CheckRatios(ffn, ffn.ApplyTo(space.Ffn), parent);
            }
        }
    }

    void CheckKvHeads(object record, IReadOnlyList<int> kvHeads, int? parentKv, string? source)
    {
        if (parentKv is not { } h || !map.Bound(record, "kv_heads")) return;
        for (var i = 0; i < kvHeads.Count; i++)
            if (h % kvHeads[i] != 0)
                errors.Add(map.At(record, "kv_heads", i),
                    $"{map.PathOf(record, "kv_heads")}[{i}] = {kvHeads[i]} does not divide the parent's {h} KV heads ({source}); " +
                    $"a variant mean-pools whole groups of the parent's KV heads, so use one of {string.Join(", ", Divisors(h))}");
    }

    /// <summary>Each ratio the spec writes gives the width the library rounds it to: one that rounds to the parent's
    /// own width, or to the width of a ratio before it, would be dropped without a variant.</summary>
    void CheckRatios(object record, FfnSpace applied, ParentShape? parent)
    {
        if (parent is not { FfnWidth: { } width } || !map.Has(record, "ratios") || !map.Bound(record, "ratios", "round_to")) return;
        var path = map.PathOf(record, "ratios");
        var rounding = $"widths round to multiples of {applied.RoundTo} (round_to)";
        var seen = new Dictionary<int, int>();
        for (var i = 0; i < applied.Ratios.Count; i++)
        {
            var ratio = applied.Ratios[i];
            var w = Library.VariantCatalog.Width(width, ratio, applied.RoundTo);
            var given = $"{path}[{i}] = {ratio.ToString(CultureInfo.InvariantCulture)} gives an FFN width of {w}";
            if (w >= width)
                errors.Add(map.At(record, "ratios", i),
                    $"{given}, the parent's own ({width}, {parent.FfnSource}; {rounding}): it offers no narrower variant; {Narrower(width, applied.RoundTo)}");
            else if (!seen.TryAdd(w, i))
                errors.Add(map.At(record, "ratios", i),
                    $"{given}, as {path}[{seen[w]}] = {applied.Ratios[seen[w]].ToString(CultureInfo.InvariantCulture)} does ({rounding}); the library trains one variant per width, so drop one or lower round_to");
        }
    }

    /// <summary>What gives a narrower width: a ratio below the one that rounds up to the parent's, or, where a single
    /// multiple of round_to is already the parent's width, a smaller round_to.</summary>
    static string Narrower(int width, int roundTo) => width <= roundTo
        ? $"lower round_to below {width}"
        : $"use a ratio below {((Math.Ceiling((double)width / roundTo) - 0.5) * roundTo / width).ToString("0.###", CultureInfo.InvariantCulture)}";

    static IEnumerable<int> Divisors(int n) => Enumerable.Range(1, n).Where(d => n % d == 0);

    void CheckRange(LayerOverride layer, int? layers)
    {
        if (!map.Bound(layer, "range")) return;
        var parts = layer.Range.Split('-');
        var where = map.At(layer, "range");
        var path = map.PathOf(layer, "range");
        if (!long.TryParse(parts[0], CultureInfo.InvariantCulture, out var first) || !long.TryParse(parts[^1], CultureInfo.InvariantCulture, out var last)
            || last > int.MaxValue)
        {
            errors.Add(where, $"{path} '{layer.Range}' is not a layer range");
            return;
        }
        if (first > last)
            errors.Add(where, $"{path} '{layer.Range}' runs backwards; write {last}-{first}");
        else if (layers is { } n && last >= n)
            errors.Add(where, $"{path} '{layer.Range}' goes past the parent's last layer ({n} layers: 0-{n - 1})");
    }

    static string NoAttention(string path) =>
        $"{path} offers no alternative to the parent's attention: list kv_heads, or set linear or no_op to true";

    static string NoFfn(string path) =>
        $"{path} offers no alternative to the parent's FFN: list ratios, or set linear or no_op to true";
}
