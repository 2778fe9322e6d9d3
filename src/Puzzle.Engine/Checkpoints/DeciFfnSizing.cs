namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// How nemotron-nas (DeciLM) runtimes turn a block's <c>ffn_mult</c> into an FFN width.
/// <para>
/// Verified in vLLM's <c>vllm/model_executor/models/nemotron_nas.py</c> (vllm-project/vllm, read 2026-11-26):
/// <c>_ffn_mult_to_intermediate_size(ffn_mult, n_embd) = _find_multiple(int(2 * ffn_mult * n_embd / 3), 256)</c>, where
/// <c>_find_multiple</c> rounds <i>up</i> to a multiple of 256; <c>DeciLMDecoderLayer</c> uses it when
/// <c>hasattr(block_config.ffn, "ffn_mult")</c> and otherwise takes <c>block_config.ffn.intermediate_size</c>.
/// SGLang's <c>models/nemotron_nas.py</c>, TensorRT-LLM's <c>_torch/models/modeling_nemotron_nas.py</c> and mlx-lm's
/// <c>models/nemotron-nas.py</c> use the same formula but read <i>only</i> <c>ffn_mult</c>; the remote-code
/// <c>block_config.py</c> shipped with Nemotron-51B asserts <c>ffn_mult</c> is set on every active FFN, rounds it to 6
/// decimals, and drops unknown keys (such as <c>intermediate_size</c>) with a warning.
/// </para>
/// So a width is portable only when some <c>ffn_mult</c> reproduces it exactly: a multiple of 256. Any other width
/// is written as <c>intermediate_size</c> alone, which vLLM honours and the ffn_mult-only runtimes refuse loudly.
/// </summary>
public static class DeciFfnSizing
{
    /// <summary>The width a runtime builds for <paramref name="ffnMult"/>, evaluated in Python's order and float64.</summary>
    public static int IntermediateSize(double ffnMult, int hiddenSize)
    {
        var size = (long)Math.Truncate(2 * ffnMult * hiddenSize / 3);
        var rounded = size % 256 == 0 ? size : size + 256 - size % 256;
        if (rounded is <= 0 or > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(ffnMult), ffnMult, $"ffn_mult {ffnMult} gives no usable width for hidden size {hiddenSize}");
        return (int)rounded;
    }

    /// <summary>
    /// An <c>ffn_mult</c> with at most 6 decimals (the remote code rounds to that) that gives exactly
    /// <paramref name="intermediateSize"/>, or null when none does.
    /// </summary>
    public static double? FfnMultFor(int intermediateSize, int hiddenSize)
    {
        if (intermediateSize <= 0 || intermediateSize % 256 != 0 || hiddenSize <= 0) return null;
        var candidate = Math.Round(3.0 * intermediateSize / (2.0 * hiddenSize), 6);
        return candidate > 0 && IntermediateSize(candidate, hiddenSize) == intermediateSize ? candidate : null;
    }
}
