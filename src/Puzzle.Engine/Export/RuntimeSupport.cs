using Puzzle.Engine.Model;

namespace Puzzle.Engine.Export;

/// <summary>
/// What a serving runtime can load of a nemotron-nas child. vLLM's <c>nemotron_nas.py</c> (read 2026-11-26) builds a
/// layer from <c>block_configs</c> with GQA attention or none and a SwiGLU FFN or none: it has no
/// <c>replace_with_linear</c> path. It also starts the residual stream at the first attention it runs: an FFN
/// before any attention (layer 0's attention a no-op, and every earlier sub-block too) calls
/// <c>post_attention_layernorm(hidden, None)</c> and unpacks one tensor into two, and a model with no attention at
/// all does the same in the final norm.
/// </summary>
public static class RuntimeSupport
{
    /// <summary>Every reason <paramref name="runtime"/> cannot serve <paramref name="config"/>, one per line; empty when it can.</summary>
    public static IReadOnlyList<string> Problems(ModelConfig config, ExportRuntime runtime)
    {
        var problems = new List<string>();
        if (runtime != ExportRuntime.Vllm) return problems;
        for (var i = 0; i < config.NumLayers; i++)
        {
            var block = config.Blocks[i];
            if (block.Attention.Kind == AttentionKind.Linear)
                problems.Add($"layer {i}: attention replaced by a linear layer (replace_with_linear), which vLLM's nemotron_nas has no code for");
            if (block.Ffn.Kind == FfnKind.Linear)
                problems.Add($"layer {i}: FFN replaced by a linear layer (replace_with_linear), which vLLM's nemotron_nas has no code for");
        }
        var first = Enumerable.Range(0, config.NumLayers).FirstOrDefault(i => config.Blocks[i].Attention.Kind != AttentionKind.NoOp, -1);
        if (first < 0)
            problems.Add("no layer keeps its attention: vLLM's nemotron_nas starts the residual stream at the first attention and fails without one");
        else if (Enumerable.Range(0, first).FirstOrDefault(i => config.Blocks[i].Ffn.Kind != FfnKind.NoOp, -1) is var early and >= 0)
            problems.Add($"layer {early}: its FFN runs before the first attention (layer {first}); vLLM's nemotron_nas starts the residual stream at the first attention and fails on an FFN before it");
        return problems;
    }

    /// <summary>The spec's name of a runtime.</summary>
    public static string Name(ExportRuntime runtime) => runtime == ExportRuntime.Vllm ? "vllm" : "any";
}
