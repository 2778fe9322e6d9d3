using Puzzle.Engine.Export;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// Export and pack rules that span sections: a vLLM target keeps linear replacements out of the search space (vLLM's
/// nemotron_nas cannot run them), the packed child is one the search can return, and a publish source is https (plain
/// http only on this machine, where no key crosses a network).
/// </summary>
internal sealed class ShipRules(SourceMap map, SpecErrorList errors)
{
    public void Check(PipelineSpec spec)
    {
        CheckRuntime(spec);
        if (map.Bound(spec.Pack, "child") && map.Bound(spec.Search, "solutions") && spec.Pack.Child > spec.Search.Solutions)
            errors.Add(map.At(spec.Pack, "child"),
                $"pack.child {spec.Pack.Child} asks for the search's solution {spec.Pack.Child}, but search.solutions is {spec.Search.Solutions}");
        if (spec.Pack.Source is { } source && map.Bound(spec.Pack, "source"))
        {
            var where = map.At(spec.Pack, "source");
            if (!Uri.TryCreate(source, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
                errors.Add(where, $"pack.source '{source}' is not an http(s) URL");
            else if (uri.Scheme == "http" && !uri.IsLoopback)
                errors.Add(where, $"pack.source '{source}' is plain http; the API key would cross the network unencrypted: use https");
            else if (!uri.AbsolutePath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                errors.Add(where, $"pack.source '{source}' must be the feed's v3 service index (a URL ending in index.json)");
        }
    }

    void CheckRuntime(PipelineSpec spec)
    {
        if (spec.Export.Runtime != ExportRuntime.Vllm || !map.Bound(spec.Export, "runtime") || !map.Bound(spec.SearchSpace.Attention, "linear")
            || !map.Bound(spec.SearchSpace.Ffn, "linear")) return;
        var offending = new List<string>();
        if (spec.SearchSpace.Attention.Linear) offending.Add(Describe(spec.SearchSpace.Attention, "search_space.attention.linear"));
        if (spec.SearchSpace.Ffn.Linear) offending.Add(Describe(spec.SearchSpace.Ffn, "search_space.ffn.linear"));
        foreach (var layer in spec.SearchSpace.Layers)
        {
            if (layer.Attention?.Linear == true) offending.Add(map.PathOf(layer.Attention, "linear"));
            if (layer.Ffn?.Linear == true) offending.Add(map.PathOf(layer.Ffn, "linear"));
        }
        if (offending.Count > 0)
            errors.Add(map.At(spec.Export, "runtime"),
                $"export.runtime vllm cannot serve linear replacements (vLLM's nemotron_nas has no replace_with_linear), but the search space offers them: " +
                $"{string.Join(", ", offending)}; set those to false, or use export.runtime any");
    }

    string Describe(object record, string path) => map.Has(record, "linear") ? path : path + " (true by default)";
}
