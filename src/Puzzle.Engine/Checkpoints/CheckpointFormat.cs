namespace Puzzle.Engine.Checkpoints;

/// <summary>How <c>config.json</c> describes the model.</summary>
public enum CheckpointFormat
{
    /// <summary>Plain Llama when every block is the same GQA + SwiGLU shape, nemotron-nas otherwise.</summary>
    Auto,
    /// <summary><c>LlamaForCausalLM</c>: homogeneous models only.</summary>
    Llama,
    /// <summary><c>DeciLMForCausalLM</c> with per-layer <c>block_configs</c>, as Llama-3.1-Nemotron-51B.</summary>
    NemotronNas,
}
